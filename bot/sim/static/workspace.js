"use strict";
/*
 * The demo's Slack client. It draws what GET /demo/state says the chosen user sees, and posts what they do to
 * /demo/*, where the server turns it into the signed requests Slack itself would send the bot. No framework:
 * each part of the page is redrawn only when the data it is drawn from changed, so a poll never disturbs a
 * half-filled modal or the composer.
 */

const POLL_MS = 700;
// The emoji the bot uses, drawn as small images the way Slack draws its own emoji, so they never depend on the
// system having an emoji font. Other shortcodes stay as typed.
const svg = (body) => `<svg class="emoji" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">${body}</svg>`;
const EMOJI = {
  red_circle: svg('<circle cx="8" cy="8" r="7" fill="#dd2e44"/>'),
  large_yellow_circle: svg('<circle cx="8" cy="8" r="7" fill="#fdcb58"/>'),
  large_green_circle: svg('<circle cx="8" cy="8" r="7" fill="#78b159"/>'),
  white_check_mark: svg(
    '<rect x="1" y="1" width="14" height="14" rx="3" fill="#77b255"/>' +
      '<path d="M4 8.5l2.5 2.5L12 5" stroke="#fff" stroke-width="2" fill="none" stroke-linecap="round"/>',
  ),
  hourglass_flowing_sand: svg(
    '<path d="M3 1h10M3 15h10" stroke="#8a6d3b" stroke-width="1.6"/>' +
      '<path d="M4.5 2h7c0 3-2.5 4.5-2.5 6s2.5 3 2.5 6h-7c0-3 2.5-4.5 2.5-6S4.5 5 4.5 2z" fill="#ccd6dd"/>' +
      '<path d="M5.5 13.5h5c-.3-1.5-1.8-2.5-2.5-3.5-.7 1-2.2 2-2.5 3.5zM6.5 4.5h3L8 6.5z" fill="#ffac33"/>',
  ),
};
const ICON = {
  eye: svg(
    '<path d="M1 8s2.5-5 7-5 7 5 7 5-2.5 5-7 5-7-5-7-5z" fill="none" stroke="currentColor" stroke-width="1.4"/>' +
      '<circle cx="8" cy="8" r="2" fill="currentColor"/>',
  ),
  lock: svg(
    '<rect x="3" y="7" width="10" height="8" rx="1.5" fill="currentColor"/>' +
      '<path d="M5.5 7V5a2.5 2.5 0 0 1 5 0v2" fill="none" stroke="currentColor" stroke-width="1.6"/>',
  ),
};
const PHASES = { UNACKED: "Triggered", ACKED: "Acknowledged", RESOLVED: "Resolved" };
const MODAL_TROUBLE = "We had some trouble connecting. Try again?"; // what Slack says when a submission fails

const ui = {
  user: null,
  channel: null,
  tab: null, // "home": vobot's App Home is shown instead of the channel
  data: null,
  drawn: {}, // part of the page -> JSON of the data it was last drawn from
  slackbot: [], // local Slackbot lines {channel, user, after, text}: like Slack's, they live in this tab only
  modalKey: null, // id and hash of the view on screen
  modalBlocks: [], // the blocks of the view on screen, to read its inputs back
  lastTs: null, // the newest message and the number of Slackbot lines drawn, to notice what is new
  lineCount: 0,
  requested: 0, // sequence of state requests, so an older answer never overwrites a newer one
  applied: 0,
};

// --- small helpers -----------------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
  return node;
}

const $ = (selector) => document.querySelector(selector);

async function api(path, body) {
  const init =
    body === undefined
      ? {}
      : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  try {
    const response = await fetch(path, init);
    const data = await response.json().catch(() => ({ error: `The page server answered HTTP ${response.status}.` }));
    return { ok: response.ok, data };
  } catch {
    return { ok: false, data: { error: "The demo is not running any more (the page server cannot be reached)." } };
  }
}

function changed(part, ...inputs) {
  const json = JSON.stringify(inputs);
  if (ui.drawn[part] === json) return false;
  ui.drawn[part] = json;
  return true;
}

function clock(seconds, withSeconds = false) {
  const options = withSeconds
    ? { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }
    : { hour: "numeric", minute: "2-digit" };
  return new Date(seconds * 1000).toLocaleTimeString([], options);
}

// --- mrkdwn ---------------------------------------------------------------------------------------------------

function escapeHtml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

// Slack sends &, < and > escaped; a literal "<" only ever starts a control sequence such as <@U123>.
function decode(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

// `html` is escaped text; `hold` sets the images aside so no formatting rule looks inside them.
function emojify(html, hold = (image) => image) {
  return html.replace(/:([a-z0-9_+-]+):/g, (whole, name) => (EMOJI[name] ? hold(EMOJI[name]) : whole));
}

function controlSequence(inner) {
  const bar = inner.indexOf("|");
  const target = bar < 0 ? inner : inner.slice(0, bar);
  const label = bar < 0 ? null : decode(inner.slice(bar + 1));
  const names = ui.data ? ui.data.names : {};
  if (target.startsWith("@")) {
    const id = target.slice(1);
    return `<span class="mention" data-user="${escapeHtml(id)}">@${escapeHtml(names[id] || label || id)}</span>`;
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    const channel = ui.data && ui.data.channels.find((c) => c.id === id);
    return `<span class="mention">#${escapeHtml(channel ? channel.name : label || id)}</span>`;
  }
  if (target.startsWith("!")) {
    const special = { "!here": "@here", "!channel": "@channel", "!everyone": "@everyone" }[target];
    return `<span class="mention">${escapeHtml(special || label || target)}</span>`;
  }
  if (/^(https?:|mailto:)/i.test(target)) {
    const href = escapeHtml(decode(target));
    return `<a href="${href}" target="_blank" rel="noopener noreferrer">${escapeHtml(label || decode(target))}</a>`;
  }
  return escapeHtml(decode(`<${inner}>`));
}

// Slack's rule for *bold*, _italics_ and ~strike~: the marks sit against the text and not inside a word.
function emphasis(html, mark, tag) {
  const m = `\\${mark}`;
  const pattern = new RegExp(`(?<![\\w${m}])${m}(?!\\s)([^${m}\\n]+?)(?<!\\s)${m}(?![\\w${m}])`, "g");
  return html.replace(pattern, `<${tag}>$1</${tag}>`);
}

function mrkdwn(text) {
  // Code and control sequences are set aside first, so no formatting happens inside them.
  const held = [];
  const hold = (html) => `\uE000${held.push(html) - 1}\uE001`;
  let html = text
    .replace(/```([\s\S]*?)```/g, (_, code) => hold(`<pre class="code-block">${escapeHtml(decode(code))}</pre>`))
    .replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${escapeHtml(decode(code))}</code>`))
    .replace(/<([^<>\n]+)>/g, (_, inner) => hold(controlSequence(inner)));
  html = emojify(escapeHtml(decode(html)), hold);
  html = emphasis(emphasis(emphasis(html, "*", "b"), "_", "i"), "~", "s");
  html = html.replace(/\n/g, "<br>");
  return html.replace(/\uE000(\d+)\uE001/g, (_, index) => held[Number(index)]);
}

// Safe as innerHTML: mrkdwn() and escapeHtml() escape everything they do not produce themselves.
function textNode(object, className = "text") {
  if (!object) return null;
  const node = el("span", { class: className });
  if (object.type === "mrkdwn") node.innerHTML = mrkdwn(object.text);
  else node.innerHTML = object.emoji === false ? escapeHtml(object.text) : emojify(escapeHtml(object.text));
  return node;
}

function icon(name, text) {
  const node = el("span", { class: "icon-text" });
  node.innerHTML = `${ICON[name]} ${escapeHtml(text)}`;
  return node;
}

// --- Block Kit ------------------------------------------------------------------------------------------------

// `surface`: {kind: "message", message} or {kind: "modal"}.
function renderBlocks(blocks, surface) {
  return blocks.map((block) => renderBlock(block, surface));
}

function renderBlock(block, surface) {
  const node = el("div", { class: `block block-${block.type}`, "data-block-id": block.block_id });
  switch (block.type) {
    case "header":
      node.append(textNode(block.text, "header-text"));
      break;
    case "section": {
      const main = el("div", { class: "section-main" }, textNode(block.text, "section-text"));
      if (block.fields) main.append(el("div", { class: "fields" }, block.fields.map((f) => textNode(f, "field"))));
      node.append(main);
      if (block.accessory) {
        node.append(el("div", { class: "accessory" }, renderElement(block.accessory, block, surface)));
      }
      break;
    }
    case "context":
      node.append(...block.elements.map((e) => (e.type === "image" ? unsupported(e.type) : textNode(e))));
      break;
    case "divider":
      node.append(el("hr"));
      break;
    case "actions":
      node.append(...block.elements.map((e) => renderElement(e, block, surface)));
      break;
    case "input":
      node.append(...renderInput(block));
      break;
    default:
      node.append(unsupported(`${block.type} block`));
  }
  return node;
}

function unsupported(what) {
  return el("span", { class: "unsupported", text: `[${what}: not drawn by this demo page]` });
}

function renderElement(element, block, surface) {
  // Slack sends block_actions from modals too, but the bot puts no buttons in its modals, nor does the driver.
  const inert = surface.kind !== "message" && surface.kind !== "home";
  if (element.type === "button") {
    const button = el(
      "button",
      {
        type: "button",
        class: `sk-button ${element.style || ""}`,
        "data-action-id": element.action_id,
        disabled: inert,
      },
      textNode(element.text),
    );
    button.addEventListener("click", async () => {
      if (element.url) window.open(element.url, "_blank", "noopener");
      if (element.confirm && !(await confirmed(element.confirm))) return;
      button.disabled = true; // Slack shows the button busy until the app answers
      if (surface.kind === "home") await actHome(element.action_id, element.value ?? null);
      else await act("click", surface.message, block, element.action_id, element.value ?? null);
      button.disabled = false;
    });
    return button;
  }
  if (element.type === "static_select") {
    const select = selectFor(element);
    select.disabled = inert;
    select.addEventListener("change", async () => {
      const option = select.value;
      if (element.confirm && !(await confirmed(element.confirm))) return;
      await act("select", surface.message, block, element.action_id, option);
    });
    return select;
  }
  return unsupported(element.type);
}

function optionNodes(options, initial) {
  return options.map((o) => el("option", { value: o.value, selected: o.value === initial }, o.text.text));
}

function selectFor(element) {
  const initial = element.initial_option ? element.initial_option.value : "";
  const placeholder = element.placeholder ? element.placeholder.text : "Select an item";
  const select = el(
    "select",
    { class: "sk-select", "data-action-id": element.action_id },
    el("option", { value: "", disabled: true, selected: !initial }, placeholder),
  );
  select.append(...optionNodes(element.options || [], initial));
  for (const group of element.option_groups || []) {
    select.append(el("optgroup", { label: group.label.text }, optionNodes(group.options, initial)));
  }
  return select;
}

async function act(kind, message, block, actionId, value) {
  const body = { user: ui.user, ts: message.ts, action_id: actionId, block_id: block.block_id, value };
  const result = await api(`/demo/${kind}`, body);
  if (!result.ok) say(result.data.error);
  else if (result.data.status !== 200) say(`vobot did not take that (HTTP ${result.data.status}).`);
  refresh();
}

async function actHome(actionId, value) {
  const result = await api("/demo/home/click", { user: ui.user, action_id: actionId, value });
  if (!result.ok) say(result.data.error);
  refresh();
}

async function shortcut(callbackId, ts = null) {
  const result = await api("/demo/shortcut", { user: ui.user, callback_id: callbackId, ts });
  if (!result.ok) say(result.data.error);
  else if (result.data.status !== 200) say(`vobot did not take that (HTTP ${result.data.status}).`);
  refresh();
}

// --- dialogs --------------------------------------------------------------------------------------------------

function confirmed(confirm) {
  const dialog = $("#confirm");
  dialog.querySelector(".confirm-title").replaceChildren(textNode(confirm.title));
  dialog.querySelector(".confirm-text").replaceChildren(textNode(confirm.text));
  const ok = $("#confirm-ok");
  const cancel = $("#confirm-cancel");
  ok.textContent = confirm.confirm ? confirm.confirm.text : "Yes";
  ok.className = `sk-button ${confirm.style || "primary"}`;
  cancel.textContent = confirm.deny ? confirm.deny.text : "Cancel";
  dialog.hidden = false;
  return new Promise((resolve) => {
    const close = (answer) => {
      dialog.hidden = true;
      ok.onclick = cancel.onclick = null;
      resolve(answer);
    };
    ok.onclick = () => close(true);
    cancel.onclick = () => close(false);
  });
}

function renderInput(block) {
  const element = block.element;
  const label = el(
    "label",
    { class: "input-label" },
    textNode(block.label),
    block.optional ? el("span", { class: "optional", text: " (optional)" }) : null,
  );
  let control;
  if (element.type === "plain_text_input") {
    control = el(element.multiline ? "textarea" : "input", {
      class: "sk-input",
      type: element.multiline ? null : "text",
      rows: element.multiline ? 4 : null,
      placeholder: element.placeholder ? element.placeholder.text : null,
      maxlength: element.max_length,
    });
    control.value = element.initial_value || "";
  } else if (element.type === "static_select") {
    control = selectFor(element);
  } else if (element.type === "multi_static_select") {
    const initial = (element.initial_options || []).map((o) => o.value);
    control = el(
      "div",
      { class: "multi-select", role: "listbox", "aria-multiselectable": "true" },
      (element.options || []).map((o) =>
        el(
          "label",
          { class: "multi-option" },
          el("input", { type: "checkbox", value: o.value, checked: initial.includes(o.value) }),
          textNode(o.text),
        ),
      ),
    );
  } else {
    control = unsupported(element.type);
  }
  control.dataset.actionId = element.action_id;
  control.classList.add("input-control");
  return [
    label,
    control,
    block.hint ? textNode(block.hint, "input-hint") : null,
    el("div", { class: "input-error", "data-testid": "input-error" }),
  ].filter(Boolean);
}

function inputValue(block, node) {
  const control = node.querySelector(".input-control");
  switch (block.element.type) {
    case "plain_text_input":
      return control.value.trim() ? control.value : null;
    case "static_select":
      return control.value || null;
    case "multi_static_select":
      return [...control.querySelectorAll("input:checked")].map((box) => box.value);
    default:
      return null;
  }
}

function renderModal(views) {
  const modal = $("#modal");
  const view = views[views.length - 1]; // the top of the user's modal stack
  if (!view) {
    modal.hidden = true;
    ui.modalKey = null;
    return;
  }
  const key = `${view.id}/${view.hash}`;
  if (ui.modalKey !== key) {
    ui.modalKey = key;
    ui.drawn.modalErrors = null;
    const body = view.body;
    modal.dataset.viewId = view.id;
    modal.querySelector(".modal-title").replaceChildren(textNode(body.title));
    modal.querySelector(".modal-body").replaceChildren(...renderBlocks(body.blocks || [], { kind: "modal" }));
    $("#modal-cancel").textContent = body.close ? body.close.text : "Cancel";
    $("#modal-submit").textContent = body.submit ? body.submit.text : "";
    $("#modal-submit").hidden = !body.submit;
    $("#modal-submit").disabled = false;
    showModalError(null);
    modal.hidden = false;
    ui.modalBlocks = body.blocks || [];
  }
  if (changed("modalErrors", view.errors)) showFieldErrors(view.errors);
}

function showFieldErrors(errors) {
  for (const node of document.querySelectorAll("#modal .block-input")) {
    node.querySelector(".input-error").textContent = errors[node.dataset.blockId] || "";
    node.classList.toggle("has-error", Boolean(errors[node.dataset.blockId]));
  }
}

function showModalError(text) {
  const box = $("#modal .modal-error");
  box.textContent = text || "";
  box.hidden = !text;
}

async function submitModal(event) {
  event.preventDefault();
  const viewId = $("#modal").dataset.viewId;
  const values = {};
  const missing = {};
  for (const block of ui.modalBlocks.filter((b) => b.type === "input")) {
    const node = document.querySelector(`#modal .block-input[data-block-id="${CSS.escape(block.block_id)}"]`);
    const value = inputValue(block, node);
    values[block.block_id] = { [block.element.action_id]: value };
    const empty = value === null || (Array.isArray(value) && value.length === 0);
    if (empty && !block.optional) missing[block.block_id] = "Please complete this required field.";
  }
  showFieldErrors(missing); // Slack's client checks required fields itself, without asking the app
  if (Object.keys(missing).length) return;
  $("#modal-submit").disabled = true;
  const result = await api("/demo/submit", { user: ui.user, view_id: viewId, values });
  $("#modal-submit").disabled = false;
  if (!result.ok) showModalError(result.data.error);
  else if (result.data.response_action === "errors") showFieldErrors(result.data.errors);
  else if (result.data.status !== 200) showModalError(MODAL_TROUBLE);
  refresh();
}

async function triggerAlert() {
  const result = await api("/demo/alert", {});
  if (!result.ok) say(result.data.error);
  refresh();
}

async function closeModal() {
  const viewId = $("#modal").dataset.viewId;
  $("#modal").hidden = true;
  ui.modalKey = null;
  const result = await api("/demo/close", { view_id: viewId });
  if (!result.ok) say(result.data.error);
  refresh();
}

// --- the channel ----------------------------------------------------------------------------------------------

// A line from Slackbot that only this user sees, as Slack shows for a command that failed.
function say(text) {
  const shown = ui.data ? ui.data.messages : [];
  const after = shown.length ? shown[shown.length - 1].ts : null;
  if (ui.tab === "home") {
    $("#messages").prepend(slackbotLine({ text })); // the home has no conversation: the line goes on top
    return;
  }
  ui.slackbot.push({ channel: ui.channel, user: ui.user, after, text });
  if (ui.data) renderChannel(ui.data);
}

function renderMessage(message) {
  const name = message.bot ? "vobot" : ui.data.names[message.user] || message.user;
  const content = el(
    "div",
    { class: "message-content" },
    message.blocks.length
      ? renderBlocks(message.blocks, { kind: "message", message })
      : textNode({ type: "mrkdwn", text: message.text }, "section-text"),
  );
  if (message.edited) content.append(el("span", { class: "edited", text: "(edited)" }));
  return messageFrame(
    { ts: message.ts, ephemeral: message.ephemeral, name, app: message.bot, time: clock(Number(message.ts)) },
    content,
  );
}

function slackbotLine(line) {
  const content = el("div", { class: "message-content" }, el("span", { class: "section-text", text: line.text }));
  return messageFrame({ ts: null, ephemeral: true, name: "Slackbot", app: false, time: "" }, content);
}

// The "⋯" menu Slack shows on a message, holding vobot's message shortcut.
function messageMenu(ts) {
  const items = el(
    "div",
    { class: "message-menu-items", hidden: true },
    el("button", {
      type: "button",
      "data-testid": "shortcut-create",
      text: "New VictorOps incident",
      onclick: () => {
        menu.classList.remove("open");
        items.hidden = true;
        shortcut("vo_create_from_message", ts);
      },
    }),
  );
  const menu = el(
    "div",
    { class: "message-menu" },
    el("button", {
      type: "button",
      class: "sk-button",
      title: "More actions",
      "data-testid": "message-menu",
      text: "⋯",
      onclick: () => {
        items.hidden = !items.hidden;
        menu.classList.toggle("open", !items.hidden);
      },
    }),
    items,
  );
  return menu;
}

function messageFrame(meta, content) {
  return el(
    "div",
    {
      class: `message${meta.ephemeral ? " ephemeral" : ""}`,
      "data-testid": "message",
      "data-ts": meta.ts,
      "data-ephemeral": String(meta.ephemeral),
    },
    el("div", { class: `avatar${meta.app ? " app" : ""}`, text: meta.name.slice(0, 1).toUpperCase() }),
    el(
      "div",
      { class: "message-body" },
      meta.ephemeral ? el("div", { class: "only-you" }, icon("eye", "Only visible to you")) : null,
      el(
        "div",
        { class: "message-meta" },
        el("span", { class: "sender", text: meta.name }),
        meta.app ? el("span", { class: "app-badge", text: "APP" }) : null,
        el("span", { class: "time", text: meta.time }),
      ),
      content,
    ),
    meta.ts && !meta.ephemeral ? messageMenu(meta.ts) : null,
  );
}

function renderHome(data) {
  if (!changed("home", data.home)) return;
  const blocks = data.home ? renderBlocks(data.home.blocks, { kind: "home" }) : [];
  const waiting = el("div", { class: "empty-channel", text: "Opening vobot's Home tab…" });
  const home = el("div", { class: "home", "data-testid": "home" }, blocks.length ? blocks : waiting);
  $("#messages").replaceChildren(home);
}

function renderChannel(data) {
  const lines = ui.slackbot.filter((l) => l.channel === ui.channel && l.user === ui.user);
  if (!changed("channel", data.messages, data.names, lines)) return;
  const box = $("#messages");
  // Follow the conversation: stay at the bottom, and jump there when something new arrives (the answer to
  // what the user just did); an edit in place leaves the view where it is.
  const last = data.messages.length ? data.messages[data.messages.length - 1].ts : null;
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  const follow = atBottom || last !== ui.lastTs || lines.length !== ui.lineCount;
  ui.lastTs = last;
  ui.lineCount = lines.length;
  const nodes = lines.filter((l) => l.after === null).map(slackbotLine);
  for (const message of data.messages) {
    nodes.push(renderMessage(message));
    nodes.push(...lines.filter((l) => l.after === message.ts).map(slackbotLine));
  }
  if (!nodes.length) nodes.push(el("div", { class: "empty-channel", text: "No messages yet. Type /vo help below." }));
  box.replaceChildren(...nodes);
  if (follow) box.scrollTop = box.scrollHeight;
}

function renderChrome(data) {
  if (changed("users", data.users)) {
    $("#user-picker").replaceChildren(
      ...data.users.map((u) => el("option", { value: u.slack_id }, `${u.name} — ${u.role}`)),
    );
  }
  $("#user-picker").value = ui.user;
  $("#home-link").classList.toggle("active", ui.tab === "home");
  $("#composer-form").hidden = ui.tab === "home";
  if (changed("channels", data.channels, ui.channel, ui.tab)) {
    $("#channels").replaceChildren(
      ...data.channels.map((c) =>
        el(
          "li",
          {},
          el(
            "button",
            {
              type: "button",
              class: `channel-link${c.id === ui.channel && ui.tab !== "home" ? " active" : ""}`,
              "data-channel": c.id,
              onclick: () => choose(ui.user, c.id),
            },
            c.dm ? "✉ vobot" : c.private ? icon("lock", c.name) : `# ${c.name}`,
          ),
        ),
      ),
    );
    const current = data.channels.find((c) => c.id === ui.channel);
    const named =
      current &&
      (current.dm ? "vobot (direct message)" : current.private ? icon("lock", current.name) : `# ${current.name}`);
    $("#channel-name").replaceChildren((ui.tab === "home" ? "vobot · Home" : named) || "");
    $("#composer").placeholder = current ? `Message ${current.dm ? "vobot" : `#${current.name}`}` : "";
  }
}

// --- the VictorOps side panel ---------------------------------------------------------------------------------

function renderPanel(data) {
  if (changed("incidents", data.incidents)) {
    $("#vo-incidents").replaceChildren(
      ...data.incidents.map((i) => {
        const paged = [...i.paged_users, ...i.paged_policies];
        const who =
          i.phase === "UNACKED"
            ? `paging ${paged.join(", ") || "nobody"}`
            : i.acked_by
              ? `acked by ${i.acked_by}`
              : "";
        return el(
          "li",
          { class: "incident", "data-incident": i.number, "data-phase": i.phase },
          el("span", { class: `badge phase-${i.phase}`, text: PHASES[i.phase] || i.phase }),
          el("span", { class: "incident-number", text: `#${i.number}` }),
          el("span", { class: "incident-title", text: i.title }),
          el("div", { class: "incident-facts", text: [`route ${i.routing_key}`, who].filter(Boolean).join(" · ") }),
        );
      }),
    );
  }
  if (changed("budget", data.budget)) {
    $("#vo-budget").replaceChildren(
      ...Object.entries(data.budget).map(([family, left]) =>
        el(
          "li",
          { "data-family": family, class: left === 0 ? "exhausted" : "" },
          el("span", { class: "family", text: family }),
          el("span", { class: "left", text: left === null ? "unlimited" : `${left} left` }),
        ),
      ),
    );
  }
  if (changed("calls", data.calls)) {
    const rows = data.calls.map((c) =>
      el(
        "tr",
        { "data-status": c.status, class: c.rate_limited || c.status === 429 ? "limited" : "" },
        el("td", { text: clock(c.at, true) }),
        el("td", { class: "method", text: c.method }),
        // a long path wraps only after a slash
        el("td", { class: "path" }, c.path.split(/(?<=\/)/).flatMap((part) => [part, el("wbr")])),
        el("td", { class: "status", text: String(c.status) }),
      ),
    );
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 4, class: "muted", text: "None yet." })));
    $("#vo-calls tbody").replaceChildren(...rows);
  }
}

// --- polling and navigation -----------------------------------------------------------------------------------

async function refresh() {
  const sequence = ++ui.requested;
  const query = new URLSearchParams();
  if (ui.user) query.set("user", ui.user);
  if (ui.channel) query.set("channel", ui.channel);
  const result = await api(`/demo/state?${query}`);
  if (sequence < ui.applied) return;
  ui.applied = sequence;
  if (!result.ok) {
    if (!ui.data && (ui.user || ui.channel)) {
      // An address from an earlier demo run: start over as the first demo user.
      ui.user = ui.channel = null;
      return refresh();
    }
    $("#channel-name").textContent = result.data.error;
    return;
  }
  const data = result.data;
  if (ui.data && ui.data.version === data.version && ui.user === data.user && ui.channel === data.channel) return;
  ui.data = data;
  ui.user = data.user;
  ui.channel = data.channel;
  history.replaceState(null, "", `?user=${encodeURIComponent(ui.user)}&channel=${encodeURIComponent(ui.channel)}`);
  renderChrome(data);
  if (ui.tab === "home") renderHome(data);
  else renderChannel(data);
  renderModal(data.views);
  renderPanel(data);
}

function choose(user, channel, tab = null) {
  ui.user = user;
  ui.channel = channel;
  ui.tab = tab;
  ui.data = null;
  ui.drawn = {};
  ui.modalKey = null;
  $("#messages").replaceChildren();
  if (tab === "home") openHome();
  refresh();
}

// Opening the tab is what Slack tells the bot (app_home_opened); the bot then publishes the home.
async function openHome() {
  const result = await api("/demo/home/open", { user: ui.user });
  if (!result.ok) say(result.data.error);
  refresh();
}

async function send(event) {
  event.preventDefault();
  const composer = $("#composer");
  const text = composer.value.trim();
  if (!text) return;
  composer.value = "";
  if (!text.startsWith("/")) {
    const said = await api("/demo/message", { user: ui.user, channel: ui.channel, text });
    if (!said.ok) say(said.data.error);
    refresh();
    return;
  }
  const result = await api("/demo/command", { user: ui.user, channel: ui.channel, text });
  if (!result.ok) say(result.data.error);
  else if (result.data.status !== 200) {
    say(`${text.split(" ")[0]} failed: the app answered HTTP ${result.data.status}.`);
  }
  refresh();
}

async function poll() {
  await refresh();
  setTimeout(poll, POLL_MS);
}

function start() {
  const params = new URLSearchParams(location.search);
  ui.user = params.get("user");
  ui.channel = params.get("channel");
  $("#composer-form").addEventListener("submit", send);
  $("#user-picker").addEventListener("change", (event) => choose(event.target.value, ui.channel, ui.tab));
  $("#home-link").addEventListener("click", () => choose(ui.user, ui.channel, "home"));
  $("#global-shortcut").addEventListener("click", () => shortcut("vo_create"));
  $("#modal form").addEventListener("submit", submitModal);
  $("#modal-cancel").addEventListener("click", closeModal);
  $("#vo-alert").addEventListener("click", triggerAlert);
  $("#modal .modal-x").addEventListener("click", closeModal);
  $("#composer").focus();
  poll();
}

start();
