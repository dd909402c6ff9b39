// The 404 page: says what was not found, as text.
import { app, h } from "./common.js";

app().append(h("h1", {}, "Not found"), h("p", {}, "Nothing here: ", h("code", {}, app().dataset.path || "")), h("p", {}, h("a", { href: "/" }, "← traces")));
