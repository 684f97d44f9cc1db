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

  var send = GraphiQL.createFetcher({
    url: url.href,
    subscriptionUrl: subscriptionUrl.href,
  });

  // GraphiQL learns the operation's name from the editor 100 ms after an
  // edit, so a query run right after a named one was replaced by an
  // anonymous one goes out with the old name. The name sent is therefore
  // checked against the document sent: kept if one of its operations has it,
  // else the single operation's own name (or none), else none, and the
  // server asks which operation to run.
  function operationNameFor(query, requested) {
    var names;
    try {
      names = GraphiQL.GraphQL.parse(query)
        .definitions.filter(function (definition) {
          return definition.kind === "OperationDefinition";
        })
        .map(function (operation) {
          return operation.name ? operation.name.value : null;
        });
    } catch (syntaxError) {
      return requested; // the server reports the syntax error
    }
    if (requested && names.indexOf(requested) >= 0) return requested;
    return names.length === 1 ? names[0] : null;
  }

  function fetcher(params, options) {
    var operationName = operationNameFor(params.query, params.operationName);
    return send(
      Object.assign({}, params, { operationName: operationName }),
      options,
    );
  }

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
