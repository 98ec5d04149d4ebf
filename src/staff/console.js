// The staff console: signs in, then polls the staff API. The token lives in
// sessionStorage and goes out as a Bearer header; nothing is rendered as HTML from data.
"use strict";

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("caseline-token");
let role = sessionStorage.getItem("caseline-role");
let timer = null;
/// The member's agency (its id and name; none for a statewide account), and the names
/// of the agencies the filter offers, by id.
let agency = null;
let agencyName = null;
const agencyNames = {};

/// A listing's path, narrowed to the agency the filter names (statewide accounts).
function scoped(path) {
  const wanted = $("agency-filter").value;
  if (!wanted) return path;
  return path + (path.includes("?") ? "&" : "?") + "agency=" + encodeURIComponent(wanted);
}

/// A record's agency as staff read it: its name, or the statewide unit for none.
function agencyOf(id) {
  return id ? (agencyNames[id] || id) : "statewide unit";
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (token) headers["Authorization"] = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (res.status === 401 && path !== "/staff/login") signedOut();
  if (!res.ok) throw new Error(data.message || ("error " + res.status));
  return data;
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  row.appendChild(td);
  return td;
}

function minutes(secs) {
  const m = Math.floor(secs / 60), s = secs % 60;
  return m + ":" + String(s).padStart(2, "0");
}

function transferForm(call) {
  const form = document.createElement("form");
  form.className = "inline";
  const id = call.call_sid;
  const entryLabel = document.createElement("label");
  entryLabel.htmlFor = "entry-" + id;
  entryLabel.className = "visually-hidden";
  entryLabel.textContent = "Entry for call " + id;
  const entry = document.createElement("select");
  entry.id = "entry-" + id;
  entry.name = "entry";
  for (const [value, text] of [["verify", "Verify identity"], ["payments", "Hear payments"], ["case-status", "Hear case status"], ["main-menu", "Main menu"], ["spanish", "Spanish menus"]]) {
    const o = document.createElement("option");
    o.value = value; o.textContent = text;
    entry.appendChild(o);
  }
  const backLabel = document.createElement("label");
  backLabel.htmlFor = "back-" + id;
  backLabel.className = "visually-hidden";
  backLabel.textContent = "Return the caller to";
  const back = document.createElement("input");
  back.id = "back-" + id;
  back.name = "return_to";
  back.placeholder = "return to: number, sip: or client:";
  back.value = localStorage.getItem("caseline-return-to") || "";
  back.required = true;
  back.size = 24;
  const button = document.createElement("button");
  button.type = "submit";
  button.textContent = "Transfer";
  button.setAttribute("aria-label", "Transfer call " + id);
  form.append(entryLabel, entry, backLabel, back, button);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    localStorage.setItem("caseline-return-to", back.value);
    try {
      await api("POST", "/staff/calls/" + encodeURIComponent(id) + "/transfer", { entry: entry.value, return_to: back.value });
      $("calls-status").textContent = "Call " + id + " sent to " + entry.options[entry.selectedIndex].text + "; it will come back to " + back.value + ".";
      $("calls-status").className = "status";
      refresh();
    } catch (e) {
      $("calls-status").textContent = "Transfer failed: " + e.message;
      $("calls-status").className = "status error";
    }
  });
  return form;
}

/// The agent's language for where callers are, from the browser's.
const AGENT_LANG = (navigator.language || "en").toLowerCase().startsWith("es") ? "es" : "en";

async function refreshCalls() {
  const { calls } = await api("GET", scoped("/staff/calls?lang=" + AGENT_LANG));
  const body = $("calls");
  // Keep a form the user is typing in.
  if (body.contains(document.activeElement) && document.activeElement.tagName !== "BUTTON") return;
  body.replaceChildren();
  if (calls.length === 0) {
    const row = body.insertRow();
    const td = cell(row, "No calls right now.");
    td.colSpan = 7;
  }
  for (const c of calls) {
    const row = body.insertRow();
    row.dataset.callSid = c.call_sid;
    // The caller by the end of their number, which the agent can ask for or see on
    // their own phone; the CallSid stays in the row's tooltip.
    const who = cell(row, c.caller_ending ? "ending " + c.caller_ending : "number withheld");
    who.title = c.call_sid;
    const where = cell(row, c.sent_by ? (c.doing + " (sent by " + c.sent_by + ")") : c.doing);
    if (c.step) where.title = "step " + c.step;
    cell(row, c.language || "not chosen");
    cell(row, c.verified ? "yes" : "no");
    cell(row, c.case_number ? (c.case_number + " (" + c.role + ")") : "");
    cell(row, minutes(c.seconds_in_call));
    cell(row, "").appendChild(transferForm(c));
  }
}

/// A work queue (callbacks, requests by mail): one row a request, with its claim or
/// complete button. `columns` gives the cells of one request.
const QUEUES = {
  callbacks: {
    path: "/staff/callbacks", list: "callbacks", noun: "callback", empty: "No callback requests waiting.",
    // The server masks the number except for whoever claimed the request.
    columns: (c) => [c.id, c.number, c.lang,
      c.case_number ? (c.case_number + " (" + c.role + ")") : "not verified", agencyOf(c.agency), c.attempts],
    extra: (c, td) => {
      if (c.status !== "open") return;
      for (const [action, label] of [["dial-now", "Dial now"], ["cancel", "Cancel"]]) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "secondary";
        b.textContent = label;
        b.setAttribute("aria-label", label + " callback " + c.id);
        b.addEventListener("click", () => work("callbacks", { id: c.id, action }));
        td.appendChild(b);
      }
    },
  },
  requests: {
    path: "/staff/requests", list: "requests", noun: "request", empty: "No requests waiting.",
    columns: (r) => [r.id, r.reference, r.kind, r.case_number, agencyOf(r.agency), r.lang, r.details || ""],
    extra: (r, td) => { if (r.has_recording) td.appendChild(playButton(r)); },
  },
};

async function refreshQueue(name) {
  if (role === "agent") return;
  const q = QUEUES[name];
  const items = (await api("GET", scoped(q.path)))[q.list];
  const body = $(name);
  body.replaceChildren();
  if (items.length === 0) {
    const td = cell(body.insertRow(), q.empty);
    td.colSpan = 9;
  }
  for (const c of items) {
    const row = body.insertRow();
    for (const value of q.columns(c)) cell(row, value);
    cell(row, c.status + (c.claimed_by ? " by " + c.claimed_by : ""));
    const td = cell(row, "");
    if (q.extra) q.extra(c, td);
    // Only open and claimed requests are worked by hand; the dialer owns the rest.
    if (c.status !== "open" && c.status !== "claimed") continue;
    const b = document.createElement("button");
    b.type = "button";
    if (c.status === "open") {
      b.textContent = "Claim";
      b.setAttribute("aria-label", "Claim " + q.noun + " " + c.id);
      b.addEventListener("click", () => work(name, { id: c.id, action: "claim" }));
    } else {
      b.textContent = "Complete";
      b.addEventListener("click", () => {
        const outcome = prompt("What happened with the " + q.noun + "?");
        if (outcome) work(name, { id: c.id, action: "complete", outcome });
      });
    }
    b.setAttribute("aria-label", b.textContent + " " + q.noun + " " + c.id);
    td.appendChild(b);
  }
}

/// A button that fetches a request's recorded address through the server (with the
/// staff token) and plays it; the provider's URL never reaches the browser.
function playButton(r) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "secondary";
  b.textContent = "Play address";
  b.setAttribute("aria-label", "Play the recorded address for request " + r.id);
  b.addEventListener("click", async () => {
    try {
      const res = await fetch("/staff/requests/" + r.id + "/recording", { headers: { Authorization: "Bearer " + token } });
      if (!res.ok) throw new Error((await res.json().catch(() => ({}))).message || res.statusText);
      // Outside the table, so the table's refresh does not stop it.
      const audio = document.createElement("audio");
      audio.controls = true;
      audio.src = URL.createObjectURL(await res.blob());
      audio.setAttribute("aria-label", "Recorded address for request " + r.id);
      $("player").replaceChildren(audio);
      audio.play();
    } catch (e) {
      $("requests-status").textContent = "The recording could not be played: " + e.message;
    }
  });
  return b;
}

async function refreshDialer() {
  if (role === "agent") return;
  const d = await api("GET", "/staff/callbacks/dialer");
  const toggle = $("dialer-toggle");
  $("dialer-state").textContent = !d.configured ? "The dialer is off (no CASELINE_CALLBACK_FROM): callbacks are dialled by hand."
    : d.paused ? "The dialer is paused." : "The dialer is calling people back.";
  // Only a statewide account pauses it: it dials for every agency.
  toggle.hidden = !d.configured || !d.can_pause;
  toggle.textContent = d.paused ? "Resume the dialer" : "Pause the dialer";
  toggle.onclick = async () => {
    await api("POST", "/staff/callbacks/dialer", { paused: !d.paused });
    refreshDialer();
  };
}

async function refreshPayments() {
  const { payments } = await api("GET", scoped("/staff/payments"));
  const body = $("payments");
  body.replaceChildren();
  if (payments.length === 0) {
    cell(body.insertRow(), "No card payments in the last 30 days.").colSpan = 7;
  }
  for (const p of payments) {
    const row = body.insertRow();
    cell(row, p.id);
    cell(row, new Date(p.paid_at * 1000).toLocaleString());
    cell(row, p.case_number);
    cell(row, agencyOf(p.agency));
    // A payment the provider charged at another amount is flagged for staff to put right.
    const flag = p.status === "paid" ? "" : " (" + p.status + (p.charged ? ", charged $" + p.charged : "") + ")";
    cell(row, "$" + p.amount + flag);
    cell(row, p.card_type + " ending " + p.card_last4);
    cell(row, p.confirmation);
  }
}

/// The accounts (admins): each with its role, agency and whether it can sign in. Loaded
/// once when an admin signs in; accounts change rarely.
async function loadAccounts() {
  try {
    const { accounts } = await api("GET", "/staff/accounts");
    const body = $("accounts");
    body.replaceChildren();
    for (const a of accounts) {
      const row = body.insertRow();
      cell(row, a.name);
      cell(row, a.role);
      cell(row, a.agency ? agencyOf(a.agency) : "statewide");
      cell(row, a.disabled ? "disabled" : (a.locked_until ? "locked" : "active"));
    }
  } catch (e) {
    $("accounts-status").textContent = "The accounts could not be loaded: " + e.message;
  }
}

/// The Reports page (supervisors): the figures of `caseline report`, the charts the
/// server draws, and the flow diagram. Nothing here polls; it loads when shown.
const LANGUAGES = { en: "English", es: "Spanish", none: "not chosen" };
const CHANNELS = { voice: "voice", tty: "TTY" };

function counts(map, names) {
  const parts = Object.entries(map).map(([k, v]) => (names[k] || k) + " " + v);
  return parts.length ? parts.join(", ") : "none";
}

function duration(secs) {
  const all = Math.round(secs), m = Math.floor(all / 60), s = all % 60;
  return m ? m + " min " + s + " s" : s + " s";
}

const FIGURES = [
  ["Calls", (r) => r.calls],
  ["Contained", (r) => r.contained],
  ["Transferred", (r) => r.transferred],
  ["Callbacks", (r) => r.callbacks],
  ["Abandoned", (r) => r.abandoned],
  ["Containment rate", (r) => (r.containment_rate * 100).toFixed(1) + "%"],
  ["Average time in the IVR", (r) => duration(r.average_ivr_seconds)],
  ["Verification attempts", (r) => r.verification.attempts],
  ["Verified", (r) => r.verification.succeeded],
  ["Locked out", (r) => r.verification.locked],
  ["Repeat callers (within 24 h)", (r) => r.repeat_callers_24h],
  ["By language", (r) => counts(r.by_language, LANGUAGES), "wide"],
  ["By channel", (r) => counts(r.by_channel, CHANNELS), "wide"],
];

/// Object URLs of the pictures shown, by image id, given back when replaced.
const pictures = {};

/// Fetches an SVG the server drew (with the staff token) and shows it in an <img>, where
/// it can run nothing; anything but an SVG from us is refused.
async function showSvg(img, path, alt) {
  const res = await fetch(path, { headers: { Authorization: "Bearer " + token } });
  if (res.status === 401) signedOut();
  if (!res.ok) throw new Error((await res.json().catch(() => ({}))).message || ("error " + res.status));
  if (!(res.headers.get("content-type") || "").startsWith("image/svg+xml")) throw new Error("the server sent something other than a picture");
  const url = URL.createObjectURL(new Blob([await res.blob()], { type: "image/svg+xml" }));
  if (pictures[img.id]) URL.revokeObjectURL(pictures[img.id]);
  pictures[img.id] = url;
  img.alt = alt;
  img.src = url;
}

/// The period, the agency and whether the load tester's calls count, as the report's query.
function reportQuery() {
  const agency = $("report-agency").value;
  return "days=" + encodeURIComponent($("report-days").value)
    + (agency ? "&agency=" + encodeURIComponent(agency) : "")
    + ($("report-load-tests").checked ? "&load_tests=include" : "");
}


/// Fills the agency selector once: every agency for a statewide account, its own (and
/// nothing else to choose) for a local one; hidden without an agencies file.
async function loadAgencyList() {
  const select = $("report-agency");
  if (select.dataset.loaded) return;
  const { agencies, own } = await api("GET", "/staff/agencies");
  for (const a of agencies) {
    agencyNames[a.id] = a.name;
    const o = document.createElement("option");
    o.value = a.id;
    o.textContent = a.name;
    select.appendChild(o);
  }
  if (own) {
    select.value = own;
    select.disabled = true;
  }
  select.dataset.loaded = "yes";
  $("report-agency-choice").hidden = agencies.length === 0;
}

const ZIP_ROWS = [
  ["were asked their ZIP code", "asked"],
  ["gave one in California (one county)", "in_california"],
  ["gave one spanning counties", "spanning_counties"],
  ["gave one outside California", "outside_california"],
  ["hung up at the ZIP code question", "hung_up_at_zip"],
  ["hung up at the county question", "hung_up_at_county"],
];

/// The calls by agency and the ZIP code question, when the line has agencies.
function showAgencies(r) {
  const body = $("report-by-agency");
  body.replaceChildren();
  for (const a of r.by_agency) {
    const row = body.insertRow();
    cell(row, a.agency ? (agencyNames[a.agency] || a.agency) : "statewide");
    for (const k of ["calls", "contained", "transferred", "callbacks", "abandoned"]) cell(row, a[k]);
  }
  if (r.by_agency.length === 0) cell(body.insertRow(), "No calls.").colSpan = 6;
  const zip = $("report-zip");
  zip.replaceChildren();
  for (const [name, key] of ZIP_ROWS) {
    const row = zip.insertRow();
    cell(row, name);
    cell(row, r.zip_step[key]);
  }
  $("report-agencies").hidden = $("report-agency-choice").hidden;
}

async function loadReports() {
  const period = $("report-days").options[$("report-days").selectedIndex].text;
  $("reports-status").className = "status muted";
  $("reports-status").textContent = "Loading...";
  try {
    await loadAgencyList();
    const r = await api("GET", "/staff/reports?" + reportQuery());
    const figures = $("report-figures");
    figures.replaceChildren();
    for (const [name, value, wide] of FIGURES) {
      const div = document.createElement("div");
      if (wide) div.className = wide;
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = String(value(r));
      div.append(dt, dd);
      figures.appendChild(div);
    }
    const body = $("report-drop-off");
    body.replaceChildren();
    const steps = Object.entries(r.drop_off).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    if (steps.length === 0) cell(body.insertRow(), "No abandoned calls.").colSpan = 2;
    for (const [step, n] of steps) {
      const row = body.insertRow();
      cell(row, step);
      cell(row, n);
    }
    showAgencies(r);
    await showSvg($("chart-outcomes"), "/staff/reports/chart/outcomes.svg?" + reportQuery(),
      "Calls by outcome, " + period + ": contained " + r.contained + ", transferred " + r.transferred
      + ", callbacks " + r.callbacks + ", abandoned " + r.abandoned + ".");
    await showSvg($("chart-drop-off"), "/staff/reports/chart/drop-off.svg?" + reportQuery(),
      "Abandoned calls by the step they ended on, " + period + ": "
      + (steps.length ? steps.map(([k, v]) => k + " " + v).join(", ") : "none") + ".");
    $("reports-status").textContent = "As of " + new Date().toLocaleTimeString() + ".";
  } catch (e) {
    $("reports-status").className = "status error";
    $("reports-status").textContent = "The report could not be loaded: " + e.message;
  }
}

/// Fills the flow file list once, choosing the main menu's file when there is one.
async function loadFlowList() {
  const select = $("diagram-flow");
  if (select.options.length > 1) return;
  const { flows } = await api("GET", "/staff/flows");
  for (const f of flows) {
    const o = document.createElement("option");
    o.value = f;
    o.textContent = f + ".xml";
    select.appendChild(o);
  }
  if (flows.includes("main")) select.value = "main";
}

async function loadDiagram() {
  $("diagram-status").className = "status";
  $("diagram-status").textContent = "Drawing...";
  try {
    await loadFlowList();
    const flow = $("diagram-flow").value;
    await showSvg($("diagram"), "/staff/flows/diagram.svg" + (flow ? "?flow=" + encodeURIComponent(flow) : ""),
      "Diagram of the call flow steps in " + (flow ? flow + ".xml" : "all flow files")
      + "; the steps and their keys are listed in the flow files.");
    $("diagram-status").textContent = "";
  } catch (e) {
    $("diagram-status").className = "status error";
    $("diagram-status").textContent = "The diagram could not be drawn: " + e.message;
  }
}

function showPage(name) {
  const reports = name === "reports";
  $("work-page").hidden = reports;
  $("reports-page").hidden = !reports;
  $("tab-work").setAttribute("aria-current", reports ? "false" : "page");
  $("tab-reports").setAttribute("aria-current", reports ? "page" : "false");
  if (reports) {
    loadReports();
    loadDiagram();
  }
}

async function work(name, body) {
  const q = QUEUES[name];
  try {
    await api("POST", q.path, body);
    $(name + "-status").textContent = q.noun + " " + body.id + ": " + body.action + " done.";
  } catch (e) {
    $(name + "-status").textContent = e.message;
  }
  refreshQueue(name);
}

async function refresh() {
  try {
    await refreshCalls();
    await refreshQueue("callbacks");
    await refreshDialer();
    await refreshQueue("requests");
    await refreshPayments();
  } catch (e) {
    $("calls-status").textContent = e.message;
  }
}

/// The agencies' names, and for a statewide account the filter over them (shown when
/// the server has an agencies file).
async function loadAgencies() {
  const select = $("agency-filter");
  try {
    const { agencies } = await api("GET", "/staff/agencies");
    for (const a of agencies) agencyNames[a.id] = a.name;
    if (agency || agencies.length === 0 || select.options.length > 1) return;
    for (const a of agencies) {
      const o = document.createElement("option");
      o.value = a.id;
      o.textContent = a.name;
      select.appendChild(o);
    }
    $("agency-filter-row").hidden = false;
  } catch (e) { /* the lists show ids, unfiltered */ }
}

function signedIn(name) {
  $("login-section").hidden = true;
  $("app").hidden = false;
  $("who").hidden = false;
  // Whose records the lists hold: the member's agency's, or every agency's.
  $("who-name").textContent = name + " (" + role + ", " + (agencyName || "statewide") + ")";
  $("agency-filter-row").hidden = true;
  $("agency-filter").value = "";
  if (agency) agencyNames[agency] = agencyName;
  // The accounts are statewide admins' (an agency's admin could make a statewide one).
  const accounts = role === "admin" && !agency;
  $("accounts-section").hidden = !accounts;
  loadAgencies().then(() => {
    refresh();
    if (accounts) loadAccounts();
  });
  const supervisor = role === "supervisor" || role === "admin";
  $("callbacks-section").hidden = !supervisor;
  $("requests-section").hidden = !supervisor;
  // The announcement reaches every caller of every agency: statewide accounts only.
  $("announcement-section").hidden = !supervisor || !!agency;
  if (supervisor && !agency) showAnnouncementZone();
  // Agents have one page; supervisors also the Reports page.
  $("tabs").hidden = !supervisor;
  showPage("work");
  clearInterval(timer);
  timer = setInterval(refresh, 3000);
}

function signedOut() {
  token = null;
  agency = null;
  agencyName = null;
  // The next account may see other agencies.
  const agencies = $("report-agency");
  agencies.replaceChildren(agencies.options[0]);
  agencies.disabled = false;
  delete agencies.dataset.loaded;
  sessionStorage.removeItem("caseline-token");
  clearInterval(timer);
  $("app").hidden = true;
  $("who").hidden = true;
  $("login-section").hidden = false;
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("login-status").textContent = "";
  try {
    const r = await api("POST", "/staff/login", { name: $("login-name").value, password: $("login-password").value });
    token = r.token; role = r.role; agency = r.agency; agencyName = r.agency_name;
    sessionStorage.setItem("caseline-token", token);
    sessionStorage.setItem("caseline-role", role);
    $("login-password").value = "";
    signedIn(r.name);
  } catch (e) {
    $("login-status").textContent = e.message;
  }
});

$("logout").addEventListener("click", async () => {
  try { await api("POST", "/staff/logout"); } catch (e) { /* signed out anyway */ }
  signedOut();
});

$("tab-work").addEventListener("click", () => showPage("work"));
$("agency-filter").addEventListener("change", refresh);
$("tab-reports").addEventListener("click", () => showPage("reports"));
$("report-days").addEventListener("change", loadReports);
$("report-refresh").addEventListener("click", loadReports);
$("diagram-flow").addEventListener("change", loadDiagram);
$("report-load-tests").addEventListener("change", loadReports);
$("report-agency").addEventListener("change", loadReports);
$("diagram-actual").addEventListener("change", () => {
  document.querySelector(".diagram").classList.toggle("actual", $("diagram-actual").checked);
});

/// Names the agency's zone beside the date-time picker, whose time is read in it.
async function showAnnouncementZone() {
  try {
    const { zone } = await api("GET", "/staff/announcement");
    $("ann-zone").textContent = ", " + zone;
  } catch (e) { /* the label stays without the zone */ }
}

$("announcement-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const until = $("ann-until").value.trim();
  try {
    await api("PUT", "/staff/announcement", { en: $("ann-en").value, es: $("ann-es").value, until: until || undefined });
    $("ann-status").textContent = "Callers hear the announcement from the next call on.";
  } catch (e) {
    $("ann-status").textContent = e.message;
  }
});

$("ann-clear").addEventListener("click", async () => {
  try {
    await api("DELETE", "/staff/announcement");
    $("ann-status").textContent = "Announcement cleared.";
  } catch (e) {
    $("ann-status").textContent = e.message;
  }
});

if (token) {
  api("GET", "/staff/me").then((me) => {
    role = me.role; agency = me.agency; agencyName = me.agency_name;
    signedIn(me.name);
  }).catch(signedOut);
}
