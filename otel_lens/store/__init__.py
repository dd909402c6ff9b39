"""The store: schema, connection, migrations, the batch writer and the retention sweeper."""
