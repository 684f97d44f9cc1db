// Mounts GraphiQL with the settings gateway/graphiql.py writes into the page.
// A file rather than an inline script, so a strict Content-Security-Policy
// (script-src 'self') can allow it.
(function () {
  "use strict";

  var config = JSON.parse(
    document.getElementById("graphiql-config").textContent,
  );
  var url = new URL(config.endpoint, window.location.href);
  var subscriptionUrl = new URL(url.href);
  subscriptionUrl.protocol = url.protocol === "https:" ? "wss:" : "ws:";

  var fetcher = GraphiQL.createFetcher({
    url: url.href,
    subscriptionUrl: subscriptionUrl.href,
  });

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: config.query,
      defaultHeaders: config.headers,
      defaultEditorToolsVisibility: config.editorToolsVisibility,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
      inputValueDeprecation: true,
    }),
  );
})();
