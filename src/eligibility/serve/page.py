"""The screening page served at `GET /`: plain HTML, CSS and a little JavaScript, no build step, nothing external.

The page first asks the household's composition (the members and each one's relation to the
applicant; optionally how many vehicles, business registrations and legal obligors), then calls
`POST /screen` after each answer and shows one question at a time with its help text and the right
input, the running outcome of each program, and at the end the explanation with what was assumed
and what remains to verify. It keeps the household in the page only (nothing on the server).

When the service needs a token the page asks for it and keeps it in the tab's sessionStorage (gone
when the tab closes); it is sent as `Authorization: Bearer` with each call and never in a URL.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from eligibility.engine.runtime import Engine
from eligibility.serve.screen import RECORD_NOUNS, default_programs


def _config(engine: Engine, auth: bool) -> dict[str, Any]:
    """What the page needs before its first call: the lists of the composition and the default programs."""
    facts = engine.model.facts
    lists = []
    for spec in facts.fields:
        if spec.type != "list":
            continue
        entry: dict[str, Any] = {"name": spec.name, "label": {"zh": spec.label.zh, "en": spec.label.en},
                                 "noun": RECORD_NOUNS.get(spec.name, {"zh": spec.label.zh, "en": spec.label.en}),
                                 "required": spec.required, "min": spec.min_items,
                                 "ids": spec.field("id") is not None,
                                 "max": min(spec.max_items, 50)}
        structural = engine.validator.structural.get(spec.name, frozenset())
        relation = spec.field("relation")
        if relation is not None and "relation" in structural:
            entry["relations"] = [{"value": v, "label": {"zh": lab.zh, "en": lab.en}} for v, lab in relation.values]
        lists.append(entry)
    programs = default_programs(engine)
    titles = {p: {"zh": engine.model.programs[p].title.zh, "en": engine.model.programs[p].title.en}
              for p in programs}
    return {"auth": auth, "lists": lists, "programs": programs, "titles": titles}


def render_page(engine: Engine, *, auth: bool) -> str:
    """Return the page for this policy set; `auth` says whether /screen needs a bearer token."""
    data = json.dumps(_config(engine, auth), ensure_ascii=False, separators=(",", ":"))
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return PAGE.replace("__CONFIG__", data)


def page_csp(page: str) -> str:
    """The page's Content-Security-Policy: its own inline script and style (by hash), calls to itself, nothing else."""
    def hashes(tag: str) -> str:
        found = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.S)
        return " ".join("'sha256-" + base64.b64encode(hashlib.sha256(s.encode("utf-8")).digest()).decode("ascii")
                        + "'" for s in found) or "'none'"

    return (f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; "
            "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


PAGE = r"""<!DOCTYPE html>
<html lang="zh">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>社会救助初筛 · Social assistance screening</title>
<style>
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;color:#1a1a1a;
background:#f4f5f7}
main{max-width:40rem;margin:0 auto;padding:12px}
header{display:flex;align-items:center;justify-content:space-between;gap:8px}
h1{font-size:1.25rem;margin:8px 0}
h2{font-size:1.1rem;margin:0 0 8px}
section{background:#fff;border-radius:8px;padding:12px;margin:12px 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}
label{display:block;margin:10px 0 4px;font-weight:600}
input,select{width:100%;font:inherit;padding:8px;border:1px solid #999;border-radius:6px;background:#fff}
button{font:inherit;padding:10px 14px;border-radius:6px;border:1px solid #2458a6;background:#2458a6;color:#fff;
cursor:pointer;margin:4px 0}
button.plain{background:#fff;color:#2458a6}
button.choice{display:block;width:100%;text-align:left;background:#fff;color:#1a1a1a;border-color:#999}
#lang{width:auto;padding:6px 10px}
.row{display:flex;gap:8px;flex-wrap:wrap}
.row button{flex:1 1 8rem}
.help,.note{color:#555;font-size:.92rem}
.error{color:#a40000}
#outcomes ul,#done ul{padding-left:1.2rem;margin:4px 0}
.status{font-weight:600}
.eligible{color:#136f2c}.not_eligible{color:#a40000}.undetermined{color:#7a5a00}
pre{white-space:pre-wrap;overflow-wrap:anywhere;font:inherit;font-size:.92rem;background:#f7f7f7;padding:8px;
border-radius:6px}
p,li,h2{overflow-wrap:anywhere}
</style>
</head>
<body data-state="start">
<main>
<header><h1 id="title"></h1><button id="lang" class="plain" type="button"></button></header>
<p id="intro" class="note"></p>
<section id="token-box" hidden>
<label for="token" id="token-label"></label>
<input id="token" type="password" autocomplete="off">
<p id="token-help" class="help"></p>
<button id="token-save" type="button"></button>
</section>
<section id="compose" hidden>
<h2 id="compose-title"></h2>
<label for="on" id="on-label"></label><input id="on" type="date">
<label for="count" id="count-label"></label><input id="count" type="number" min="1" max="50" value="1">
<div id="relations"></div>
<div id="others"></div>
<button id="start" type="button"></button>
</section>
<section id="ask" hidden>
<p id="progress" class="note"></p>
<h2 id="q-label"></h2>
<p id="q-help" class="help"></p>
<div id="q-input"></div>
<div class="row"><button id="unknown" class="plain" type="button"></button>
<button id="back" class="plain" type="button"></button></div>
</section>
<p id="message" class="error" role="alert" hidden></p>
<section id="outcomes" hidden><h2 id="outcomes-title"></h2><ul id="outcome-list"></ul></section>
<section id="done" hidden>
<h2 id="done-title"></h2>
<div id="done-lists"></div>
<h2 id="explanation-title"></h2>
<pre id="explanation"></pre>
<button id="restart" type="button"></button>
</section>
</main>
<script type="application/json" id="config">__CONFIG__</script>
<script>
(function () {
"use strict";
var C = JSON.parse(document.getElementById("config").textContent);
var T = {
  zh: {title: "社会救助初筛", lang: "English", intro: "回答几个问题，看看家庭可能符合哪些社会救助。" +
    "结果仅供参考，以正式申请的审核为准。",
    token: "访问令牌", tokenHelp: "本服务需要访问令牌（向系统管理员索取）。令牌只保存在本浏览器标签页中，关闭即清除。",
    save: "保存", compose: "家庭组成", on: "决定日期", count: "共同生活的家庭成员人数",
    relation: "{n}与申请人的关系", other: "{label}：数量（可不填，不填按没有处理）", start: "开始",
    progress: "第 {n} 个问题", unknown: "不知道", back: "上一步", ok: "确定", outcomes: "目前结果",
    eligible: "符合条件", not_eligible: "不符合条件", undetermined: "待定", error: "无法评估",
    amount: "每月 {a} 元", done: "初筛完成", assumed: "按假定处理（未询问）",
    verify: "需核实（申请人自述，以材料为准）",
    still: "仍待查明", explanation: "说明", restart: "重新开始", busy: "正在计算…", needToken: "请先填写访问令牌。",
    badToken: "访问令牌无效，请重新填写。", failed: "出错了：", enter: "请填写答案。", nothing: "无"},
  en: {title: "Social assistance screening", lang: "中文", intro: "Answer a few questions to see which social " +
    "assistance the household may qualify for. The result is indicative; the formal application decides.",
    token: "Access token", tokenHelp: "This service needs an access token (ask your administrator). It is kept " +
    "in this browser tab only and cleared when the tab closes.", save: "Save", compose: "The household",
    on: "Decision date", count: "Number of members living together", relation: "{n}: relation to the applicant",
    other: "{label}: how many (optional; blank is taken as none)", start: "Start", progress: "Question {n}",
    unknown: "Don't know", back: "Back", ok: "OK", outcomes: "Outcome so far", eligible: "eligible",
    not_eligible: "not eligible", undetermined: "to be settled", error: "cannot be evaluated",
    amount: "{a} yuan a month", done: "Screening complete", assumed: "Assumed (not asked)",
    verify: "To verify (stated by the applicant; documents decide)", still: "Still to find out",
    explanation: "Explanation", restart: "Start again", busy: "Working…", needToken: "Enter the access token first.",
    badToken: "The access token is not valid; enter it again.", failed: "Something went wrong: ",
    enter: "Enter an answer.", nothing: "none"}
};
var S = {lang: "zh", household: null, on: null, history: [], last: null, asked: 0};
var $ = function (id) { return document.getElementById(id); };
function t(key, vars) {
  var s = T[S.lang][key];
  Object.keys(vars || {}).forEach(function (k) { s = s.split("{" + k + "}").join(vars[k]); });
  return s;
}
function el(tag, text, cls) {
  var e = document.createElement(tag);
  if (text !== undefined && text !== null) { e.textContent = text; }
  if (cls) { e.className = cls; }
  return e;
}
function state(s) { document.body.setAttribute("data-state", s); }
function show(id, on) { $(id).hidden = !on; }
function message(text) { $("message").textContent = text || ""; show("message", !!text); }
function token() { try { return sessionStorage.getItem("eligibility.token") || ""; } catch (e) { return ""; } }
function today() {
  var d = new Date(), p = function (n) { return (n < 10 ? "0" : "") + n; };
  return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate());
}
function noun(list, i) { return list.noun[S.lang] + " " + (i + 1); }

function texts() {
  document.documentElement.lang = S.lang === "zh" ? "zh" : "en";
  ["title", "intro"].forEach(function (k) { $(k).textContent = t(k); });
  $("lang").textContent = t("lang");
  $("token-label").textContent = t("token"); $("token-help").textContent = t("tokenHelp");
  $("token-save").textContent = t("save"); $("compose-title").textContent = t("compose");
  $("on-label").textContent = t("on"); $("count-label").textContent = t("count");
  $("start").textContent = t("start"); $("unknown").textContent = t("unknown"); $("back").textContent = t("back");
  $("outcomes-title").textContent = t("outcomes"); $("done-title").textContent = t("done");
  $("explanation-title").textContent = t("explanation"); $("restart").textContent = t("restart");
  relations(); others();
}
function members() { return C.lists.filter(function (l) { return l.relations; })[0]; }
function relations() {
  var box = $("relations"), list = members(), n = Math.max(1, Math.min(list.max, parseInt($("count").value, 10) || 1));
  var kept = [].map.call(box.querySelectorAll("select"), function (s) { return s.value; });
  box.textContent = "";
  for (var i = 0; i < n; i++) {
    var id = "relation-" + i, sel = el("select");
    sel.id = id;
    list.relations.forEach(function (r) {
      if ((i === 0) !== (r.value === "applicant")) { return; }
      var o = el("option", r.label[S.lang]); o.value = r.value; sel.appendChild(o);
    });
    if (kept[i]) { sel.value = kept[i]; } else if (i > 1) { sel.value = "child"; }
    var lab = el("label", t("relation", {n: noun(list, i)})); lab.htmlFor = id;
    box.appendChild(lab); box.appendChild(sel);
  }
}
function others() {
  var box = $("others"), kept = {};
  box.querySelectorAll("input").forEach(function (x) { kept[x.id] = x.value; });
  box.textContent = "";
  C.lists.forEach(function (l) {
    if (l.relations || l.required) { return; }
    var id = "count-" + l.name, input = el("input"), lab = el("label", t("other", {label: l.label[S.lang]}));
    input.id = id; input.type = "number"; input.min = "0"; input.max = String(l.max); input.value = kept[id] || "";
    lab.htmlFor = id; box.appendChild(lab); box.appendChild(input);
  });
}

function compose() {
  var list = members(), h = {}, n = Math.max(1, Math.min(list.max, parseInt($("count").value, 10) || 1));
  h[list.name] = [];
  for (var i = 0; i < n; i++) { h[list.name].push({id: "m" + (i + 1), relation: $("relation-" + i).value}); }
  C.lists.forEach(function (l) {
    var x = $("count-" + l.name);
    if (!x || x.value.trim() === "") { return; }
    var k = Math.max(0, Math.min(l.max, parseInt(x.value, 10) || 0));
    h[l.name] = [];
    for (var j = 0; j < k; j++) { h[l.name].push(l.ids ? {id: l.name.charAt(0) + (j + 1)} : {}); }
  });
  return h;
}
function setAt(h, path, value) {
  var m = /^(\w+)(?:\[(\d+)\]\.(\w+))?$/.exec(path);
  if (!m) { return; }
  if (m[3] === undefined) { h[m[1]] = value; } else { h[m[1]][parseInt(m[2], 10)][m[3]] = value; }
}
function copy(x) { return JSON.parse(JSON.stringify(x)); }

function call(undo) {
  if (C.auth && !token()) { show("token-box", true); message(t("needToken")); state("token"); return; }
  state("busy"); message(t("busy"));
  var headers = {"Content-Type": "application/json"};
  if (C.auth) { headers.Authorization = "Bearer " + token(); }
  var body = {household: S.household, on: S.on, programs: C.programs, lang: S.lang, max_questions: 1};
  fetch("screen", {method: "POST", headers: headers, body: JSON.stringify(body), cache: "no-store",
                   credentials: "omit"}).then(function (r) {
    return r.json().then(function (data) { return {status: r.status, data: data}; });
  }).then(function (r) {
    if (r.status === 401) {
      try { sessionStorage.removeItem("eligibility.token"); } catch (e) { /* private mode */ }
      if (undo) { S.household = S.history.pop(); S.asked -= 1; }
      show("token-box", true); message(t("badToken")); state("token"); return;
    }
    if (r.status !== 200) {
      if (undo) { S.household = S.history.pop(); S.asked -= 1; }
      var d = r.data || {}, errs = (d.errors || []).map(function (e) { return e.path + " " + e.message; });
      message(t("failed") + (d.title || r.status) + (errs.length ? " (" + errs.join("; ") + ")" : ""));
      state(S.last ? (S.last.done ? "done" : "question") : "compose"); return;
    }
    message(""); S.last = r.data; render();
  }).catch(function (e) {
    message(t("failed") + e); state("error");
  });
}

function render() {
  var r = S.last;
  show("compose", false); show("token-box", false);
  var ul = $("outcome-list"); ul.textContent = "";
  Object.keys(r.outcomes).forEach(function (name) {
    var o = r.outcomes[name], li = el("li");
    li.setAttribute("data-program", name); li.setAttribute("data-status", o.status);
    li.setAttribute("data-amount", o.amount === null ? "" : o.amount);
    li.appendChild(el("span", o.title + (S.lang === "zh" ? "：" : ": ")));
    li.appendChild(el("span", t(o.status), "status " + o.status));
    if (o.status === "eligible" && o.amount !== null) {
      li.appendChild(el("span", " · " + t("amount", {a: o.amount})));
    }
    ul.appendChild(li);
  });
  show("outcomes", true);
  if (r.done) { finish(r); return; }
  show("done", false);
  ask(r.next_questions[0]);
}

function ask(q) {
  show("ask", true);
  var box = $("q-input");
  box.textContent = "";
  box.setAttribute("data-path", q.path); box.setAttribute("data-type", q.type);
  $("progress").textContent = t("progress", {n: S.asked + 1});
  $("q-label").textContent = q.label; $("q-help").textContent = q.help;
  $("back").hidden = S.history.length === 0;
  if (q.choices) {
    q.choices.forEach(function (c) {
      var b = el("button", c.label, q.type === "bool" ? "" : "choice");
      b.type = "button"; b.setAttribute("data-value", JSON.stringify(c.value));
      b.addEventListener("click", function () { answer(q.path, c.value); });
      box.appendChild(b);
    });
  } else {
    var input = el("input"), ok = el("button", t("ok"));
    input.id = "answer";
    if (q.type === "date") { input.type = "date"; }
    else if (q.type === "integer") {
      input.type = "number"; input.step = "1"; input.inputMode = "numeric";
      if (q.min !== null) { input.min = q.min; }
      if (q.max !== null) { input.max = q.max; }
    }
    else if (q.type === "money" || q.type === "decimal") { input.type = "text"; input.inputMode = "decimal"; }
    else { input.type = "text"; }
    if (q.unit_label) { input.setAttribute("aria-describedby", "q-help"); input.placeholder = q.unit_label; }
    var lab = el("label", q.field_label); lab.htmlFor = "answer";
    ok.id = "submit"; ok.type = "button";
    var send = function () {
      var v = input.value.trim();
      if (v === "") { message(t("enter")); return; }
      if (q.type === "integer") { v = Number(v); }
      answer(q.path, v);
    };
    ok.addEventListener("click", send);
    input.addEventListener("keydown", function (e) { if (e.key === "Enter") { send(); } });
    box.appendChild(lab); box.appendChild(input); box.appendChild(ok);
    input.focus();
  }
  state("question");
}

function answer(path, value) {
  S.history.push(copy(S.household)); S.asked += 1;
  setAt(S.household, path, value);
  call(true);
}

function finish(r) {
  show("ask", false); show("done", true);
  var box = $("done-lists");
  box.textContent = "";
  [["assumed", r.assumed], ["verify", r.to_verify], ["still", r.still_unknown]].forEach(function (part) {
    var items = part[1] || [], h = el("h2", t(part[0])), ul = el("ul");
    h.id = "list-" + part[0];
    if (!items.length) { ul.appendChild(el("li", t("nothing"))); }
    items.forEach(function (x) {
      var li = el("li", x.label + (S.lang === "zh" ? "：" : ": ") + x.value + (x.source ? " (" + x.source + ")" : ""));
      li.setAttribute("data-path", x.path); ul.appendChild(li);
    });
    box.appendChild(h); box.appendChild(ul);
  });
  $("explanation").textContent = r.explanation || "";
  state("done");
}

$("lang").addEventListener("click", function () {
  S.lang = S.lang === "zh" ? "en" : "zh"; texts();
  if (S.last) { call(false); }
});
$("count").addEventListener("input", relations);
$("token-save").addEventListener("click", function () {
  var v = $("token").value.trim();
  try { sessionStorage.setItem("eligibility.token", v); } catch (e) { /* private mode */ }
  $("token").value = ""; message("");
  show("token-box", false);
  if (S.household) { call(false); } else { show("compose", true); state("compose"); }
});
$("start").addEventListener("click", function () {
  S.on = $("on").value || today(); S.household = compose(); S.history = []; S.asked = 0; S.last = null;
  call(false);
});
$("unknown").addEventListener("click", function () {
  answer($("q-input").getAttribute("data-path"), {unknown: true});
});
$("back").addEventListener("click", function () {
  if (!S.history.length) { return; }
  S.household = S.history.pop(); S.asked -= 1; call(false);
});
$("restart").addEventListener("click", function () {
  S.household = null; S.last = null; S.history = []; S.asked = 0;
  ["ask", "done", "outcomes"].forEach(function (id) { show(id, false); });
  show("compose", true); state("compose");
});
$("on").value = today();
texts();
if (C.auth && !token()) { show("token-box", true); state("token"); } else { show("compose", true); state("compose"); }
}());
</script>
</body>
</html>
"""
