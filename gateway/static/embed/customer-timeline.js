/*
 * <customer-timeline token="…" [gateway="https://gateway.example"]>
 *
 * One customer's timeline from the Customer Graph gateway: icons per kind,
 * infinite scroll through the connection's cursors, a filter per source and
 * live updates over the `customerTimeline` subscription (graphql-transport-ws).
 * Plain JavaScript, no dependencies: drop the script and the tag in any page.
 * The token is an embed token (mutation createEmbedToken); it names the customer.
 */
(() => {
  "use strict";

  const PAGE_SIZE = 20;
  const SOURCES = ["SHOPIFY", "ZENDESK", "POSTHOG", "INGEST", "CRM"];
  // Inline SVG line icons (24×24, stroked): no icon font, no CDN.
  const BAG = '<path d="M6 7h12l-1 13H7z"/><path d="M9 7a3 3 0 0 1 6 0"/>';
  const BACK = '<path d="M9 14l-4-4 4-4"/><path d="M5 10h9a5 5 0 0 1 0 10h-3"/>';
  const CART = '<circle cx="9" cy="20" r="1.5"/><circle cx="17" cy="20" r="1.5"/><path d="M3 4h2l2.5 11h11L21 8H6.5"/>';
  const BOX = '<path d="M3 7l9-4 9 4v10l-9 4-9-4z"/><path d="M3 7l9 4 9-4M12 11v10"/>';
  const SQUARE = '<rect x="4" y="4" width="16" height="16" rx="3"/>';
  const TAG = '<path d="M3 12V3h9l9 9-9 9z"/><circle cx="7.5" cy="7.5" r="1.5"/>';
  const ICONS = {
    ORDER_PLACED: BAG,
    ORDER_REFUNDED: BACK,
    RETURN_REQUESTED: BACK,
    CHECKOUT_ABANDONED: CART,
    TICKET_OPENED: '<path d="M4 7h16v4a2 2 0 0 0 0 4v4H4v-4a2 2 0 0 0 0-4z"/>',
    TICKET_COMMENTED: '<path d="M4 5h16v11H9l-5 4z"/>',
    SATISFACTION_RATED: '<path d="M12 3l2.7 5.6 6.1.9-4.4 4.3 1 6.1L12 17l-5.4 2.9 1-6.1-4.4-4.3 6.1-.9z"/>',
    PAGE_VIEWED: '<path d="M2 12s4-7 10-7 10 7 10 7-4 7-10 7S2 12 2 12z"/><circle cx="12" cy="12" r="3"/>',
    PRODUCT_VIEWED: BOX,
    ADDED_TO_CART: CART,
    SEARCHED: '<circle cx="11" cy="11" r="6"/><path d="M20 20l-4.5-4.5"/>',
    CUSTOM_EVENT: '<path d="M13 2L4 14h7l-1 8 9-12h-7z"/>',
    NOTE_ADDED: '<path d="M5 3h10l4 4v14H5z"/><path d="M9 12h6M9 16h6"/>',
    TASK_CREATED: SQUARE,
    TASK_COMPLETED: SQUARE + '<path d="M8 12l3 3 5-6"/>',
    TAG_ADDED: TAG,
    TAG_REMOVED: TAG,
    CONSENT_CHANGED: '<rect x="5" y="11" width="14" height="10" rx="2"/><path d="M8 11V7a4 4 0 0 1 8 0v4"/>',
    LOYALTY_CHANGED: '<rect x="3" y="8" width="18" height="4"/><path d="M5 12v9h14v-9M12 8v13"/>',
  };
  const COLORS = { SHOPIFY: "#2e7d32", ZENDESK: "#1565c0", POSTHOG: "#ef6c00", INGEST: "#6a1b9a", CRM: "#455a64" };

  const FIELDS = "id occurredAt source kind summary actor";
  const PAGE_QUERY = `query Timeline($id: ID!, $first: Int!, $after: String, $sources: [TimelineSource!]) {
    timeline(customerId: $id, first: $first, after: $after, sources: $sources) {
      unavailableSources
      pageInfo { hasNextPage endCursor }
      edges { cursor node { ${FIELDS} } }
    }
  }`;
  const LIVE_QUERY = `subscription Live($id: ID!) { customerTimeline(customerId: $id) { ${FIELDS} } }`;

  const STYLE = `
    :host { display: block; font: 14px/1.4 system-ui, sans-serif; color: #1d2330; height: 100%; }
    .bar { display: flex; gap: 6px; flex-wrap: wrap; padding: 10px 12px; border-bottom: 1px solid #e3e6eb; background: #fff; position: sticky; top: 0; }
    .bar button { border: 1px solid #c9ced6; background: #fff; border-radius: 999px; padding: 3px 10px; cursor: pointer; font: inherit; font-size: 12px; }
    .bar button[aria-pressed="true"] { background: #1d2330; color: #fff; border-color: #1d2330; }
    .live { margin-left: auto; font-size: 12px; color: #8a93a3; align-self: center; }
    .live.on { color: #1a7f37; }
    .list { overflow-y: auto; height: calc(100% - 48px); max-height: calc(100vh - 48px); }
    ul { list-style: none; margin: 0; padding: 0; }
    li { display: grid; grid-template-columns: 28px 1fr; gap: 8px; padding: 9px 12px; border-bottom: 1px solid #eef0f3; background: #fff; }
    li.new { animation: flash 2s ease-out; }
    @keyframes flash { from { background: #fff6c2; } to { background: #fff; } }
    .icon { display: flex; justify-content: center; padding-top: 2px; }
    .meta { color: #6b7485; font-size: 12px; }
    .src { text-transform: lowercase; background: #eef0f3; border-radius: 4px; padding: 0 5px; margin-right: 6px; }
    .status { padding: 12px; color: #6b7485; text-align: center; }
    .warn { padding: 8px 12px; background: #fff4e5; color: #8a4b00; font-size: 12px; }
  `;

  function customerOf(token) {
    try {
      const b64 = token.split(".")[0].replace(/-/g, "+").replace(/_/g, "/");
      const payload = JSON.parse(atob(b64 + "===".slice((b64.length + 3) % 4)));
      return btoa("Customer:" + payload.c);
    } catch (e) {
      return null;
    }
  }

  class CustomerTimeline extends HTMLElement {
    connectedCallback() {
      this.token = this.getAttribute("token") || "";
      this.customerId = this.getAttribute("customer-id") || customerOf(this.token);
      this.base = (this.getAttribute("gateway") || location.origin).replace(/\/$/, "");
      this.sources = new Set(SOURCES);
      this.seen = new Set();
      const root = this.attachShadow({ mode: "open" });
      root.innerHTML = `<style>${STYLE}</style>
        <div class="bar" part="filters"></div>
        <div class="list"><div class="warn" hidden></div><ul></ul><div class="status">Loading…</div></div>`;
      this.bar = root.querySelector(".bar");
      this.list = root.querySelector("ul");
      this.status = root.querySelector(".status");
      this.warn = root.querySelector(".warn");
      this.scroller = root.querySelector(".list");
      for (const source of SOURCES) {
        const button = document.createElement("button");
        button.textContent = source.toLowerCase();
        button.dataset.source = source;
        button.setAttribute("aria-pressed", "true");
        button.addEventListener("click", () => this.toggle(source, button));
        this.bar.appendChild(button);
      }
      this.liveBadge = document.createElement("span");
      this.liveBadge.className = "live";
      this.liveBadge.textContent = "○ offline";
      this.bar.appendChild(this.liveBadge);
      this.observer = new IntersectionObserver((entries) => {
        if (entries.some((e) => e.isIntersecting)) this.more();
      }, { root: this.scroller });
      this.observer.observe(this.status);
      this.reset();
      this.connect();
    }

    disconnectedCallback() {
      this.closed = true;
      if (this.socket) this.socket.close();
      if (this.observer) this.observer.disconnect();
    }

    toggle(source, button) {
      if (this.sources.has(source)) this.sources.delete(source); else this.sources.add(source);
      button.setAttribute("aria-pressed", String(this.sources.has(source)));
      this.reset();
    }

    reset() {
      this.list.textContent = "";
      this.seen.clear();
      this.cursor = null;
      this.hasNext = true;
      this.generation = (this.generation || 0) + 1;
      this.loading = false;
      this.more();
    }

    async more() {
      if (this.loading || !this.hasNext) return;
      this.loading = true;
      const generation = this.generation;
      this.status.textContent = "Loading…";
      try {
        const response = await fetch(`${this.base}/embed/graphql`, {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: `Embed ${this.token}` },
          body: JSON.stringify({
            query: PAGE_QUERY,
            variables: { id: this.customerId, first: PAGE_SIZE, after: this.cursor, sources: [...this.sources] },
          }),
        });
        if (generation !== this.generation) return;
        if (response.status === 401 || response.status === 403) {
          this.hasNext = false;
          this.status.textContent = response.status === 401 ? "This link has expired." : "Not allowed.";
          return;
        }
        const body = await response.json();
        const page = body.data && body.data.timeline;
        if (!page) throw new Error("no timeline");
        const missing = page.unavailableSources;
        this.warn.hidden = missing.length === 0;
        this.warn.textContent = missing.length ? `Unavailable right now: ${missing.join(", ").toLowerCase()}` : "";
        for (const edge of page.edges) this.add(edge.node, false);
        this.cursor = page.pageInfo.endCursor;
        this.hasNext = page.pageInfo.hasNextPage;
        this.status.textContent = this.hasNext ? "" : (this.seen.size ? "That's everything." : "Nothing yet.");
      } catch (error) {
        this.status.textContent = "Could not load the timeline.";
        this.hasNext = false;
      } finally {
        if (generation === this.generation) this.loading = false;
      }
      const rect = this.status.getBoundingClientRect();
      if (this.hasNext && rect.top < this.scroller.getBoundingClientRect().bottom) this.more();
    }

    add(event, live) {
      if (this.seen.has(event.id) || !this.sources.has(event.source)) return;
      this.seen.add(event.id);
      const item = document.createElement("li");
      item.dataset.kind = event.kind;
      item.dataset.id = event.id;
      if (live) item.className = "new";
      const icon = document.createElement("span");
      icon.className = "icon";
      icon.title = event.kind.toLowerCase().replace(/_/g, " ");
      icon.innerHTML = `<svg viewBox="0 0 24 24" width="20" height="20" fill="none" stroke="${COLORS[event.source] || "#555"}" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${ICONS[event.kind] || ""}</svg>`;
      const text = document.createElement("div");
      const summary = document.createElement("div");
      summary.className = "summary";
      summary.textContent = event.summary;
      const meta = document.createElement("div");
      meta.className = "meta";
      const source = document.createElement("span");
      source.className = "src";
      source.textContent = event.source;
      meta.append(source, new Date(event.occurredAt).toLocaleString() + (event.actor ? ` · ${event.actor}` : ""));
      text.append(summary, meta);
      item.append(icon, text);
      if (live) this.list.prepend(item); else this.list.append(item);
    }

    connect() {
      if (this.closed) return;
      const url = `${this.base.replace(/^http/, "ws")}/embed/graphql?token=${encodeURIComponent(this.token)}`;
      const socket = new WebSocket(url, "graphql-transport-ws");
      this.socket = socket;
      socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init", payload: {} }));
      socket.onmessage = (message) => {
        const data = JSON.parse(message.data);
        if (data.type === "connection_ack") {
          socket.send(JSON.stringify({ id: "live", type: "subscribe", payload: { query: LIVE_QUERY, variables: { id: this.customerId } } }));
          this.liveBadge.textContent = "● live";
          this.liveBadge.classList.add("on");
        } else if (data.type === "next" && data.payload.data) {
          this.add(data.payload.data.customerTimeline, true);
        } else if (data.type === "ping") {
          socket.send(JSON.stringify({ type: "pong" }));
        }
      };
      socket.onclose = (event) => {
        this.liveBadge.textContent = "○ offline";
        this.liveBadge.classList.remove("on");
        if (!this.closed && event.code < 4400) setTimeout(() => this.connect(), 2000);
      };
    }
  }

  if (!customElements.get("customer-timeline")) customElements.define("customer-timeline", CustomerTimeline);
})();
