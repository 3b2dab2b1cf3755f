// Starts Swagger UI on /api/docs (a file, not an inline script: the page's CSP allows no inline scripts).
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var element = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: element.getAttribute("data-openapi"),
    domNode: element,
    deepLinking: true,
    // No request to the online validator (validator.swagger.io): the page works offline.
    validatorUrl: null,
    tryItOutEnabled: false,
    displayRequestDuration: true,
    // The key stays in this tab only; it is not written to localStorage.
    persistAuthorization: false,
  });
});
