// Starts Swagger UI (docs.js) on the /docs page, showing the service's OpenAPI document.
// A file rather than an inline script: the page's Content-Security-Policy
// allows scripts from this origin only.
"use strict";

// The app's root as the page was reached: "/", or the prefix the app is mounted under.
const root = new URL(".", document.baseURI);

// The document names no server, so Swagger UI sends "Try it out" to the root
// of this origin; under a mount prefix, each request must go below the prefix.
// The document itself (loadSpec) is already read relative to the page.
function belowRoot(request) {
  const url = new URL(request.url);
  if (!request.loadSpec && url.origin === root.origin) {
    request.url = new URL("." + url.pathname + url.search, root).href;
  }
  return request;
}

window.ui = SwaggerUIBundle({
  url: new URL("openapi.json", root).href,
  dom_id: "#swagger-ui",
  // The bundle's own layout: no top bar, whose box loads documents from any URL.
  layout: "BaseLayout",
  presets: [SwaggerUIBundle.presets.apis],
  // Each operation's section has its own #/tag/operationId link.
  deepLinking: true,
  requestInterceptor: belowRoot,
  // Swagger UI would otherwise send the document to validator.swagger.io and
  // show the badge it answers: nothing may leave this origin.
  validatorUrl: null,
});
