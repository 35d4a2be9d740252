// The chat page: plain ES module, no build step. The official phoenix
// client is served by fenix_chat from the npm package (/vendor/phoenix.mjs).
import { Socket, Presence } from "/vendor/phoenix.mjs";

const $ = (sel) => document.querySelector(sel);
const TYPING_IDLE_MS = 3000;

let session = null; // {socket, channel, presence, name, room, ...}

// -- login --------------------------------------------------------------------

$("#name").value = localStorage.getItem("fenix-chat-name") || "";
if (location.hash.length > 1) $("#room").value = decodeURIComponent(location.hash.slice(1));

$("#login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const name = $("#name").value.trim();
  const room = $("#room").value.trim();
  if (!name) return showLoginError("Please pick a name.");
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(room)) return showLoginError("Room names use letters, digits, - and _.");
  localStorage.setItem("fenix-chat-name", name);
  start(name, room);
});

$("#leave").addEventListener("click", () => stop());

function showLoginError(text) {
  $("#login-error").textContent = text;
}

function showView(chat) {
  $("#login-view").hidden = chat;
  $("#chat-view").hidden = !chat;
  document.querySelector(".room-info").hidden = !chat;
}

// -- session --------------------------------------------------------------------

function start(name, room) {
  showLoginError("");
  $("#join").disabled = true;
  const socket = new Socket("/socket");
  const channel = socket.channel(`room:${room}`, { name });
  const presence = new Presence(channel);
  session = { socket, channel, presence, name, room, seen: new Set(), synced: false, typing: false, typingTimer: null };
  const s = session;

  socket.onOpen(() => setStatus("online", "connected"));
  socket.onError(() => setStatus("offline", "reconnecting…"));

  channel.on("history", ({ messages }) => messages.forEach(addMessage));
  channel.on("new_msg", addMessage);
  presence.onJoin((key, current) => {
    if (s.synced && !current) addNotice(`${key} joined`);
  });
  presence.onLeave((key, current) => {
    if (s.synced && current.metas.length === 0) addNotice(`${key} left`);
  });
  presence.onSync(() => {
    s.synced = true;
    renderPresence();
  });

  channel
    .join()
    .receive("ok", () => {
      $("#join").disabled = false;
      if (session !== s) return;
      $("#room-title").textContent = `#${room}`;
      document.title = `#${room} · fenix chat`;
      history.replaceState(null, "", `#${encodeURIComponent(room)}`);
      showView(true);
      $("#body").focus();
    })
    .receive("error", ({ reason }) => {
      $("#join").disabled = false;
      if (session !== s) return;
      stop(); // phoenix.js would retry a refused join: we give up instead
      showLoginError(`Could not join: ${reason}`);
    })
    .receive("timeout", () => setStatus("offline", "server not answering…"));
  socket.connect();
}

function stop() {
  if (!session) return;
  const { socket, channel, typingTimer } = session;
  clearTimeout(typingTimer);
  session = null;
  channel.leave();
  socket.disconnect();
  $("#messages").replaceChildren();
  $("#users").replaceChildren();
  $("#typing").textContent = "";
  document.title = "fenix chat";
  showView(false);
  $("#name").focus();
}

function setStatus(state, text) {
  const el = $("#status");
  el.dataset.state = state;
  el.textContent = text;
}

// -- messages -------------------------------------------------------------------

$("#composer").addEventListener("submit", (e) => {
  e.preventDefault();
  if (!session) return;
  const input = $("#body");
  const body = input.value.trim();
  if (!body) return;
  setTyping(false);
  input.value = "";
  session.channel
    .push("new_msg", { body })
    .receive("error", ({ reason }) => addNotice(`not sent: ${reason}`))
    .receive("timeout", () => addNotice("not sent: the server did not answer"));
});

$("#body").addEventListener("input", () => {
  if (!session) return;
  if ($("#body").value.trim() === "") return setTyping(false);
  setTyping(true);
  clearTimeout(session.typingTimer);
  session.typingTimer = setTimeout(() => setTyping(false), TYPING_IDLE_MS);
});

function setTyping(typing) {
  if (!session || session.typing === typing) return;
  session.typing = typing;
  if (!typing) clearTimeout(session.typingTimer);
  session.channel.push("typing", { typing });
}

// Messages carry ids: the history pushed on join and live broadcasts may
// overlap, and a rejoin pushes the history again.
function addMessage(msg) {
  if (!session || session.seen.has(msg.id)) return;
  session.seen.add(msg.id);
  const li = document.createElement("li");
  li.className = "msg" + (msg.user === session.name ? " mine" : "");
  li.dataset.id = msg.id;
  const avatar = document.createElement("span");
  avatar.className = "avatar";
  avatar.textContent = initial(msg.user);
  avatar.style.background = colorFor(msg.user);
  const head = document.createElement("div");
  head.className = "meta";
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = msg.user;
  const when = document.createElement("time");
  when.className = "when";
  const at = new Date(msg.at);
  when.dateTime = at.toISOString();
  when.textContent = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  head.append(who, when);
  const body = document.createElement("div");
  body.className = "body";
  body.textContent = msg.body;
  const content = document.createElement("div");
  content.className = "content";
  content.append(head, body);
  li.append(avatar, content);
  append(li);
}

function addNotice(text) {
  const li = document.createElement("li");
  li.className = "notice";
  li.textContent = text;
  append(li);
}

function append(li) {
  const list = $("#messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(li);
  if (atBottom || li.classList.contains("mine")) list.scrollTop = list.scrollHeight;
}

// -- presence -------------------------------------------------------------------

function renderPresence() {
  if (!session) return;
  const users = session.presence
    .list((name, { metas }) => ({ name, tabs: metas.length, typing: metas.some((m) => m.typing) }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const ul = $("#users");
  ul.replaceChildren(
    ...users.map((u) => {
      const li = document.createElement("li");
      li.dataset.user = u.name;
      const avatar = document.createElement("span");
      avatar.className = "avatar small";
      avatar.textContent = initial(u.name);
      avatar.style.background = colorFor(u.name);
      const name = document.createElement("span");
      name.className = "user-name";
      name.textContent = u.name + (u.name === session.name ? " (you)" : "");
      li.append(avatar, name);
      if (u.tabs > 1) {
        const tabs = document.createElement("span");
        tabs.className = "tabs";
        tabs.title = `${u.tabs} tabs`;
        tabs.textContent = `×${u.tabs}`;
        li.append(tabs);
      }
      if (u.typing) {
        const t = document.createElement("span");
        t.className = "typing-dot";
        t.title = "typing";
        li.append(t);
      }
      return li;
    }),
  );
  $("#online-count").textContent = String(users.length);
  const typing = users.filter((u) => u.typing && u.name !== session.name).map((u) => u.name);
  $("#typing").textContent =
    typing.length === 0 ? "" :
    typing.length === 1 ? `${typing[0]} is typing…` :
    typing.length === 2 ? `${typing[0]} and ${typing[1]} are typing…` :
    "several people are typing…";
}

// -- helpers --------------------------------------------------------------------

function initial(name) {
  return [...name][0]?.toUpperCase() ?? "?";
}

function colorFor(name) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.codePointAt(0)) % 360;
  return `hsl(${h} 55% 48%)`;
}
