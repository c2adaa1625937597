/*
 * The flame graph page of bpfprof (report --html): reads the data block
 * written by user/report/flame.c, builds the call tree for the chosen
 * sample type and label filter, draws it on a canvas and keeps the top
 * table in step with the zoomed frame.  No libraries, no network.
 *
 * The model and tree code at the top run under node too (tests/unit/flame_test.js);
 * the page code below it runs only where there is a document.
 */
'use strict';

var KINDS = ['kernel', 'program', 'shared library', 'runtime', 'other'];

/* The data block into arrays the tree builder walks quickly. */
function decodeModel(d) {
  var S = d.strings, m = {
    strings: S, nfuncs: d.funcs.length / 3, funcName: [], funcFile: [], funcKind: [],
    labelKey: [], labelVal: [], labelKeys: [], profiles: [],
    defaultType: d['default'] || 0
  };
  var i, j;
  for (i = 0; i < d.funcs.length; i += 3) {
    m.funcName.push(S[d.funcs[i]]);
    m.funcFile.push(S[d.funcs[i + 1]]);
    m.funcKind.push(d.funcs[i + 2]);
  }
  /*
   * Each location's frames outermost first (the file lists them innermost
   * first), all in two flat arrays: location i is [locStart[i], locStart[i + 1]).
   */
  var nf = 0;
  for (i = 0; i < d.locs.length; i++) nf += d.locs[i].length / 2;
  m.locStart = new Int32Array(d.locs.length + 1);
  m.locFuncs = new Int32Array(nf);
  m.locLines = new Float64Array(nf);
  for (i = 0, nf = 0; i < d.locs.length; i++) {
    var l = d.locs[i], n = l.length / 2;
    m.locStart[i] = nf;
    for (j = 0; j < n; j++, nf++) {
      m.locFuncs[nf] = l[2 * (n - 1 - j)];
      m.locLines[nf] = l[2 * (n - 1 - j) + 1];
    }
  }
  m.locStart[d.locs.length] = nf;
  var seen = {};
  for (i = 0; i < d.labels.length; i += 2) {
    var k = S[d.labels[i]];
    m.labelKey.push(k);
    m.labelVal.push(S[d.labels[i + 1]]);
    if (!seen[k]) { seen[k] = true; m.labelKeys.push(k); }
  }
  m.labelKeys.sort();
  /* Stack i: its caller stack (index + 1, 0 for none) and its location; callers come first. */
  m.nstacks = d.stacks.length / 2;
  m.stackParent = new Int32Array(m.nstacks);
  m.stackLoc = new Int32Array(m.nstacks);
  for (i = 0; i < m.nstacks; i++) {
    m.stackParent[i] = d.stacks[2 * i] - 1;
    m.stackLoc[i] = d.stacks[2 * i + 1];
  }
  for (i = 0; i < d.profiles.length; i++) m.profiles.push(decodeProfile(d.profiles[i]));
  return m;
}

/* A profile's flat sample array into offsets: where each sample's parts start. */
function decodeProfile(p) {
  var a = p.samples, nt = p.types.length, off = [], i = 0;
  while (i < a.length) {
    off.push(i);
    i += 1 + nt + 1 + a[i + 1 + nt];
  }
  return { types: p.types, ntypes: nt, a: a, off: Int32Array.from(off), duration: p.duration, period: p.period };
}

/*
 * Which samples pass: filter maps a label key to the set of its values
 * allowed (absent keys allow everything; a sample without the key fails).
 */
function samplePasses(m, p, s, filter, keys) {
  if (!keys.length) return true;
  var a = p.a, o = p.off[s], lo = o + 1 + p.ntypes, nlab = a[lo];
  for (var k = 0; k < keys.length; k++) {
    var allowed = filter[keys[k]], ok = false;
    for (var j = 1; j <= nlab; j++) {
      var l = a[lo + j];
      if (m.labelKey[l] === keys[k] && allowed.has(m.labelVal[l])) { ok = true; break; }
    }
    if (!ok) return false;
  }
  return true;
}

function newNode(f, parent, depth) {
  return { f: f, total: 0, self: 0, list: null, parent: parent, depth: depth, line: 0, b: null, cf: [], cn: [], cm: null };
}

/*
 * The child of node for function f, or null: a scan of a few, a map past
 * 16 (most nodes have few children; a map for each would cost more than
 * the rest of the build).
 */
function child(node, f) {
  if (node.cm) return node.cm.get(f) || null;
  var cf = node.cf;
  for (var i = 0; i < cf.length; i++) if (cf[i] === f) return node.cn[i];
  return null;
}

function addChild(node, c) {
  node.cf.push(c.f);
  node.cn.push(c);
  if (node.cm) node.cm.set(c.f, c);
  else if (node.cf.length > 16) {
    node.cm = new Map();
    for (var i = 0; i < node.cf.length; i++) node.cm.set(node.cf[i], node.cn[i]);
  }
}

/*
 * The call tree of profile p for sample type t: one node per call path,
 * children keyed by function, merged as pprof's flame graph does; a node's
 * line is its call site's when all its locations agree, else -1.
 * Values go to the stacks first, the stacks used become nodes once each,
 * then totals are summed from the leaves up: the cost is the samples plus
 * the stacks, not the samples times their depth.
 */
function buildTree(m, p, t, filter) {
  var keys = filter ? Object.keys(filter) : [];
  var root = newNode(-1, null, 0), a = p.a, maxDepth = 0, nodes = [root], i, j;
  var ns = m.nstacks, self = new Float64Array(ns), used = new Uint8Array(ns), at = new Array(ns);
  var locStart = m.locStart, locFuncs = m.locFuncs, locLines = m.locLines;
  for (var s = 0; s < p.off.length; s++) {
    var o = p.off[s], v = a[o + 1 + t];
    if (!v || !samplePasses(m, p, s, filter, keys)) continue;
    if (a[o] > 0) {
      self[a[o] - 1] += v;
      used[a[o] - 1] = 1;
    } else {
      root.self += v;
    }
  }
  /* A stack is used when a sample ends in it or a used stack continues it (callers first). */
  for (i = ns - 1; i >= 0; i--) if (used[i] && m.stackParent[i] >= 0) used[m.stackParent[i]] = 1;
  for (i = 0; i < ns; i++) {
    if (!used[i]) continue;
    var node = m.stackParent[i] >= 0 ? at[m.stackParent[i]] : root, loc = m.stackLoc[i];
    for (j = locStart[loc]; j < locStart[loc + 1]; j++) {
      var f = locFuncs[j], c = child(node, f);
      if (c === null) {
        c = newNode(f, node, node.depth + 1);
        c.line = locLines[j];
        addChild(node, c);
        nodes.push(c);
        if (c.depth > maxDepth) maxDepth = c.depth;
      } else if (c.line !== locLines[j]) {
        c.line = -1;
      }
      node = c;
    }
    at[i] = node;
    node.self += self[i];
  }
  /* Nodes were made callers first: sum from the end. */
  for (i = nodes.length - 1; i >= 0; i--) {
    var n = nodes[i];
    n.total += n.self;
    if (n.parent) n.parent.total += n.total;
  }
  root.nodes = nodes;
  root.maxDepth = maxDepth;
  sortTree(m, nodes);
  return root;
}

/* Children as arrays, largest first (ties by name), for drawing and hit tests. */
function sortTree(m, nodes) {
  var i;
  for (i = 0; i < nodes.length; i++) nodes[i].list = nodes[i].cn.slice();
  var cmp = function (x, y) {
    return y.total - x.total || (m.funcName[x.f] < m.funcName[y.f] ? -1 : m.funcName[x.f] > m.funcName[y.f] ? 1 : 0);
  };
  for (i = 0; i < nodes.length; i++) if (nodes[i].list.length > 1) nodes[i].list.sort(cmp);
}

/* Links every node of the new tree to the node of the same path in the base tree (b), or null. */
function matchBase(root, base) {
  var nodes = root.nodes;
  root.b = base;
  /* Parents come before their children in nodes. */
  for (var i = 1; i < nodes.length; i++) {
    var n = nodes[i], pb = n.parent.b;
    n.b = pb ? child(pb, n.f) : null;
  }
}

/*
 * Flat and cum per function below node (node included), as pprof counts
 * them: cum once per path however often a function recurs on it.
 * Returns { flat: Float64Array, cum: Float64Array, funcs: [indexes with a value] }.
 */
function functionTotals(m, node) {
  var flat = new Float64Array(m.nfuncs), cum = new Float64Array(m.nfuncs), on = new Int32Array(m.nfuncs);
  var used = new Uint8Array(m.nfuncs), funcs = [];
  if (!node) return { flat: flat, cum: cum, funcs: funcs };
  /* Iterative DFS: enter pushes the node, leave (negative marker) pops its function. */
  var stack = [node], leave = [];
  while (stack.length) {
    var n = stack.pop();
    if (n === null) {
      var g = leave.pop();
      if (g >= 0) on[g]--;
      continue;
    }
    var f = n.f;
    if (f >= 0) {
      if (!used[f]) { used[f] = 1; funcs.push(f); }
      flat[f] += n.self;
      if (!on[f]) cum[f] += n.total;
      on[f]++;
    }
    leave.push(f);
    stack.push(null);
    for (var i = 0; i < n.list.length; i++) stack.push(n.list[i]);
  }
  return { flat: flat, cum: cum, funcs: funcs };
}

/*
 * The share of node's total spent in functions whose name matches re: the
 * totals of matching nodes with no matching ancestor below node.
 */
function matchedTotal(m, node, re) {
  var sum = 0, stack = [node];
  while (stack.length) {
    var n = stack.pop();
    if (n.f >= 0 && re.test(m.funcName[n.f])) { sum += n.total; continue; }
    for (var i = 0; i < n.list.length; i++) stack.push(n.list[i]);
  }
  return sum;
}

/* A value in its unit the way pprof prints it: 1.50s, 12.3MB, 42. */
function formatValue(v, unit) {
  var scales = {
    nanoseconds: [[3600e9, 'hrs'], [60e9, 'mins'], [1e9, 's'], [1e6, 'ms'], [1e3, 'us'], [1, 'ns']],
    bytes: [[1099511627776, 'TB'], [1073741824, 'GB'], [1048576, 'MB'], [1024, 'kB'], [1, 'B']]
  }[unit];
  if (!v) return '0';
  if (!scales) return String(v);
  var a = Math.abs(v);
  for (var i = 0; i < scales.length; i++) {
    if (a >= scales[i][0] || scales[i][0] === 1) {
      var x = (v / scales[i][0]).toFixed(2).replace(/\.?0+$/, '');
      return x + scales[i][1];
    }
  }
  return String(v);
}

function pct(v, total) {
  return total ? (100 * v / total).toFixed(2) + '%' : '0.00%';
}

if (typeof module !== 'undefined' && module.exports) {
  module.exports = {
    decodeModel: decodeModel, buildTree: buildTree, matchBase: matchBase, child: child,
    functionTotals: functionTotals, matchedTotal: matchedTotal, formatValue: formatValue
  };
}

/* ---- the page ---- */

if (typeof document !== 'undefined') (function () {
  var ROW = 18, FONT = '12px ui-monospace, "DejaVu Sans Mono", Menlo, monospace', CHAR_W = 7.25;
  var M = decodeModel(JSON.parse(document.getElementById('data').textContent));
  var diff = M.profiles.length > 1;
  var $ = function (id) { return document.getElementById(id); };
  var canvas = $('canvas'), ctx = canvas.getContext('2d'), tip = $('tip');
  var st = {
    type: M.defaultType, filter: {}, icicle: false, zoom: null, history: [], re: null,
    root: null, base: null, rows: [], sortKey: diff ? 'dflat' : 'flat', sortAsc: false, hover: null
  };

  /* Colours by kind: a hue band each; the name picks a shade so neighbours differ. */
  var HUES = [[26, 88, 60], [352, 66, 69], [50, 78, 57], [205, 58, 65], [0, 0, 74]];
  function hashName(s) {
    var h = 2166136261;
    for (var i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); }
    return (h >>> 0) / 4294967296;
  }
  var colourCache = new Map();
  function kindColour(f) {
    var c = colourCache.get(f);
    if (c) return c;
    var k = M.funcKind[f], hue = HUES[k] || HUES[4], r = hashName(M.funcName[f]);
    c = 'hsl(' + (hue[0] + r * 12).toFixed(0) + ',' + (hue[1] - r * 12).toFixed(0) + '%,' + (hue[2] - 4 + r * 10).toFixed(0) + '%)';
    colourCache.set(f, c);
    return c;
  }
  /* A diff colours by change: red grew, green shrank, grey stayed; relative to the larger side. */
  function diffColour(n) {
    var b = n.b ? n.b.total : 0, nn = n.total * st.scaleNew, bb = b * st.scaleBase;
    var d = nn - bb, r = Math.max(nn, bb) ? d / Math.max(nn, bb) : 0;
    var s = Math.min(1, Math.abs(r) * 1.6);
    if (Math.abs(r) < 0.02) return 'hsl(210,8%,82%)';
    return d > 0 ? 'hsl(4,' + (40 + 50 * s).toFixed(0) + '%,' + (84 - 30 * s).toFixed(0) + '%)'
      : 'hsl(130,' + (30 + 40 * s).toFixed(0) + '%,' + (84 - 34 * s).toFixed(0) + '%)';
  }

  function typeUnit() { return M.profiles[0].types[st.type][1]; }
  function fmt(v) { return formatValue(v, typeUnit()); }
  function name(n) { return n.f < 0 ? 'root' : M.funcName[n.f]; }
  function where(n) {
    if (n.f < 0) return '';
    var file = M.funcFile[n.f];
    if (!file) return '';
    return n.line > 0 ? file + ':' + n.line : n.line < 0 ? file + ' (several lines)' : file;
  }

  /* ---- controls ---- */
  function setupControls() {
    var sel = $('type'), i;
    M.profiles[0].types.forEach(function (t, i) {
      var o = document.createElement('option');
      o.value = i;
      o.textContent = t[0] + ' (' + t[1] + ')';
      sel.appendChild(o);
    });
    sel.value = st.type;
    sel.onchange = function () { st.type = +sel.value; rebuild(true); };
    var box = $('filters');
    /* A label key with more than one value gets a selector. */
    for (i = 0; i < M.labelKeys.length; i++) {
      var key = M.labelKeys[i], vals = [];
      M.labelKey.forEach(function (k, j) { if (k === key && vals.indexOf(M.labelVal[j]) < 0) vals.push(M.labelVal[j]); });
      if (vals.length < 2) continue;
      vals.sort(function (x, y) { return x.localeCompare(y, undefined, { numeric: true }); });
      var lab = document.createElement('label'), s = document.createElement('select');
      lab.textContent = key + ' ';
      s.dataset.key = key;
      s.innerHTML = '<option value="">all</option>';
      vals.forEach(function (v) { var o = document.createElement('option'); o.value = o.textContent = v; s.appendChild(o); });
      s.onchange = function () {
        if (this.value) st.filter[this.dataset.key] = new Set([this.value]);
        else delete st.filter[this.dataset.key];
        rebuild(true);
      };
      lab.appendChild(s);
      box.appendChild(lab);
    }
    $('icicle').onclick = function () { st.icicle = !st.icicle; this.classList.toggle('on', st.icicle); draw(); };
    $('back').onclick = back;
    $('reset').onclick = function () { if (st.zoom !== st.root) zoomTo(st.root); };
    var search = $('search');
    search.oninput = function () {
      var v = search.value;
      search.classList.remove('bad');
      st.re = null;
      if (v) {
        try { st.re = new RegExp(v); } catch (e) { search.classList.add('bad'); }
      }
      draw();
      showMatch();
      table();
    };
    document.addEventListener('keydown', function (e) {
      if (e.target === search) return;
      if (e.key === 'Escape') $('reset').onclick();
      else if (e.key === 'Backspace') { back(); e.preventDefault(); }
    });
    var lg = $('legend'), html = '';
    if (diff) {
      html = '<span><i style="background:hsl(4,90%,54%)"></i>grew</span><span><i style="background:hsl(130,70%,50%)"></i>shrank</span>' +
        '<span><i style="background:hsl(210,8%,82%)"></i>same</span><span>(new vs base, as shares of each total)</span>';
    } else {
      var present = {};
      M.funcKind.forEach(function (k) { present[k] = true; });
      KINDS.forEach(function (k, i) {
        if (!present[i] && i === 4) return;
        var hue = HUES[i];
        html += '<span><i style="background:hsl(' + hue[0] + ',' + hue[1] + '%,' + hue[2] + '%)"></i>' + k + '</span>';
      });
    }
    lg.innerHTML = html;
    $('tabletitle').textContent = diff ? 'Top functions: new against base' : 'Top functions';
  }

  /* ---- tree and zoom ---- */
  function rebuild(keepZoom) {
    var path = [];
    if (keepZoom && st.zoom) for (var n = st.zoom; n && n.f >= 0; n = n.parent) path.unshift(n.f);
    st.root = buildTree(M, M.profiles[0], st.type, st.filter);
    st.base = null;
    if (diff) {
      st.base = buildTree(M, M.profiles[1], st.type, st.filter);
      matchBase(st.root, st.base);
      /* Shares of each side's total: captures of different lengths compare. */
      st.scaleNew = st.root.total ? 1 / st.root.total : 0;
      st.scaleBase = st.base.total ? 1 / st.base.total : 0;
    }
    var z = st.root;
    for (var i = 0; i < path.length && child(z, path[i]); i++) z = child(z, path[i]);
    st.zoom = z;
    st.history = [];
    var P = M.profiles[0];
    $('total').textContent = 'Total ' + fmt(st.root.total) + (diff ? '   (base ' + fmt(st.base.total) + ')' : '') +
      (P.duration ? '   in ' + formatValue(P.duration, 'nanoseconds') : '');
    document.body.dataset.total = st.root.total;
    if (diff) document.body.dataset.baseTotal = st.base.total;
    $('empty').hidden = st.root.total !== 0;
    draw();
    showMatch();
    table();
  }

  function zoomTo(n, noHistory) {
    if (!n || n === st.zoom) return;
    if (!noHistory) st.history.push(st.zoom);
    st.zoom = n;
    draw();
    showMatch();
    table();
  }
  function back() {
    if (st.history.length) zoomTo(st.history.pop(), true);
  }

  function crumbs() {
    var c = $('crumbs'), parts = [], n;
    for (n = st.zoom; n; n = n.parent) parts.unshift(n);
    c.innerHTML = '';
    parts.forEach(function (p, i) {
      if (i) c.appendChild(document.createTextNode(' \u203a '));
      var a = document.createElement(i === parts.length - 1 ? 'span' : 'a');
      a.textContent = name(p);
      if (i !== parts.length - 1) a.onclick = function () { zoomTo(p); };
      c.appendChild(a);
    });
    if (st.zoom !== st.root) c.appendChild(document.createTextNode('   (' + pct(st.zoom.total, st.root.total) + ' of total)'));
    $('back').disabled = !st.history.length;
    $('reset').disabled = st.zoom === st.root;
  }

  function showMatch() {
    var el = $('match');
    if (!st.re || !st.root.total) { el.textContent = ''; delete el.dataset.value; return; }
    var v = matchedTotal(M, st.root, st.re);
    el.textContent = 'matched ' + fmt(v) + ' (' + pct(v, st.root.total) + ' of total)';
    el.dataset.value = v;
  }

  /* ---- drawing ---- */
  var rows = []; /* rows[depth] = drawn frames left to right: [x, w, node] */

  function draw() {
    var z = st.zoom, root = st.root, W = canvas.parentNode.clientWidth || 800;
    var dpr = window.devicePixelRatio || 1, i;
    var minW = 0.35;
    rows = [];
    /* Frames to draw: the zoomed node's ancestors (full width), then its subtree. */
    var anc = [];
    for (var a = z; a; a = a.parent) anc.unshift(a);
    var items = [], maxDepth = 0, scale = z.total ? W / z.total : 0;
    for (i = 0; i < anc.length - 1; i++) items.push(0, W, anc[i]);
    var stack = [z, 0];
    while (stack.length) {
      var x = stack.pop(), n = stack.pop(), w = n.total * scale;
      if (w < minW) continue;
      items.push(x, w, n);
      if (n.depth > maxDepth) maxDepth = n.depth;
      var cx = x;
      for (i = 0; i < n.list.length; i++) {
        var c = n.list[i], cw = c.total * scale;
        if (cw < minW) break; /* sorted: the rest are smaller */
        stack.push(c, cx);
        cx += cw;
      }
    }
    var H = (maxDepth + 1) * ROW;
    canvas.width = Math.round(W * dpr);
    canvas.height = Math.round(H * dpr);
    canvas.style.height = H + 'px';
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.font = FONT;
    ctx.textBaseline = 'middle';
    for (i = 0; i <= maxDepth; i++) rows.push([]);
    for (i = 0; i < items.length; i += 3) {
      var fx = items[i], fw = items[i + 1], node = items[i + 2], d = node.depth;
      var y = st.icicle ? d * ROW : H - (d + 1) * ROW;
      rows[d].push(fx, fw, node);
      var matched = st.re && node.f >= 0 && st.re.test(M.funcName[node.f]);
      var dim = node.depth < z.depth;
      ctx.fillStyle = matched ? '#d04ee6' : node.f < 0 ? '#c9ced6' : diff ? diffColour(node) : kindColour(node.f);
      ctx.globalAlpha = dim ? 0.55 : 1;
      ctx.fillRect(fx, y, Math.max(fw - (fw > 2 ? 0.6 : 0), 0.5), ROW - 1);
      if (fw > 22) {
        var label = node.f < 0 ? 'root' : M.funcName[node.f], room = Math.floor((fw - 6) / CHAR_W);
        if (label.length > room) label = room > 2 ? label.slice(0, room - 1) + '\u2026' : '';
        if (label) {
          ctx.fillStyle = matched ? '#fff' : '#1b1f24';
          ctx.fillText(label, fx + 3, y + ROW / 2);
        }
      }
    }
    ctx.globalAlpha = 1;
    /* Rows were filled in DFS order; hit tests want them left to right. */
    for (i = 0; i < rows.length; i++) rows[i] = sortRow(rows[i]);
    crumbs();
    document.body.dataset.zoom = name(z);
    document.body.dataset.zoomTotal = z.total;
  }
  function sortRow(r) {
    var idx = [], out = [], i;
    for (i = 0; i < r.length; i += 3) idx.push(i);
    idx.sort(function (a, b) { return r[a] - r[b]; });
    for (i = 0; i < idx.length; i++) out.push(r[idx[i]], r[idx[i] + 1], r[idx[i] + 2]);
    return out;
  }

  function frameAt(px, py) {
    var H = canvas.clientHeight, d = st.icicle ? Math.floor(py / ROW) : Math.floor((H - py) / ROW);
    var r = rows[d];
    if (!r) return null;
    var lo = 0, hi = r.length / 3 - 1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1, x = r[mid * 3], w = r[mid * 3 + 1];
      if (px < x) hi = mid - 1;
      else if (px >= x + w) lo = mid + 1;
      else return r[mid * 3 + 2];
    }
    return null;
  }

  function tipHtml(n) {
    var e = function (s) { return String(s).replace(/[&<>"]/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); };
    var T = st.root.total, h = '<b>' + e(name(n)) + '</b>';
    var w = where(n);
    if (w) h += '<span class="dim">' + e(w) + '</span><br>';
    if (n.f >= 0) h += '<span class="dim">' + KINDS[M.funcKind[n.f]] + '</span><br>';
    h += 'flat ' + fmt(n.self) + ' (' + pct(n.self, T) + ') \u00b7 cum ' + fmt(n.total) + ' (' + pct(n.total, T) + ')';
    if (diff) {
      var b = n.b, BT = st.base.total, bs = b ? b.self : 0, bt = b ? b.total : 0;
      h += '<br><span class="dim">base: flat ' + fmt(bs) + ' (' + pct(bs, BT) + ') \u00b7 cum ' + fmt(bt) + ' (' + pct(bt, BT) + ')</span>';
      var dv = n.total - bt, dp = (T ? 100 * n.total / T : 0) - (BT ? 100 * bt / BT : 0);
      h += '<br><span class="' + (dp >= 0 ? 'up' : 'down') + '">cum change ' + (dv >= 0 ? '+' : '') + fmt(dv) +
        ', ' + (dp >= 0 ? '+' : '') + dp.toFixed(2) + ' points of total</span>';
    }
    return h;
  }

  canvas.addEventListener('mousemove', function (ev) {
    var r = canvas.getBoundingClientRect(), x = ev.clientX - r.left, y = ev.clientY - r.top;
    var n = frameAt(x, y);
    if (!n) { tip.hidden = true; st.hover = null; return; }
    if (n !== st.hover) { tip.innerHTML = tipHtml(n); st.hover = n; }
    tip.hidden = false;
    var cw = canvas.clientWidth, tw = tip.offsetWidth, th = tip.offsetHeight;
    var tx = x + 14 + tw > cw ? Math.max(0, x - tw - 14) : x + 14, ty = y + 16;
    if (ty + th > canvas.clientHeight && y - th - 8 > 0) ty = y - th - 8;
    tip.style.left = tx + 'px';
    tip.style.top = ty + 'px';
  });
  canvas.addEventListener('mouseleave', function () { tip.hidden = true; st.hover = null; });
  canvas.addEventListener('click', function (ev) {
    var r = canvas.getBoundingClientRect(), n = frameAt(ev.clientX - r.left, ev.clientY - r.top);
    if (n) zoomTo(n === st.zoom && n.parent ? n.parent : n);
  });
  window.addEventListener('resize', function () { draw(); });

  /* ---- the top table ---- */
  function table() {
    var T = st.root.total, t = functionTotals(M, st.zoom), b = diff ? functionTotals(M, st.zoom.b) : null;
    var BT = diff ? st.base.total : 0, list = t.funcs.slice(), i;
    if (b) b.funcs.forEach(function (f) { if (!t.flat[f] && !t.cum[f]) list.push(f); });
    var rowsOut = list.map(function (f) {
      var r = { f: f, name: M.funcName[f], flat: t.flat[f], cum: t.cum[f] };
      if (b) {
        r.bflat = b.flat[f];
        r.bcum = b.cum[f];
        /* As pprof -base: new minus base, in the new profile's unit. */
        r.dflat = r.flat - r.bflat;
        r.dcum = r.cum - r.bcum;
      }
      return r;
    });
    var key = st.sortKey, sgn = st.sortAsc ? 1 : -1;
    rowsOut.sort(function (x, y) {
      var a = x[key], c = y[key];
      if (key === 'name') return sgn * (a < c ? 1 : a > c ? -1 : 0);
      if (key === 'dflat' || key === 'dcum') { a = Math.abs(a); c = Math.abs(c); }
      return sgn * (a - c) || (y.flat - x.flat) || (x.name < y.name ? -1 : 1);
    });
    var cols = [['flat', 'flat'], ['flatp', 'flat%'], ['sum', 'sum%'], ['cum', 'cum'], ['cump', 'cum%']];
    if (diff) cols.push(['bflat', 'base flat'], ['bcum', 'base cum'], ['dflat', '\u0394 flat'], ['dcum', '\u0394 cum']);
    cols.push(['name', 'function']);
    var sortOf = { flatp: 'flat', sum: 'flat', cump: 'cum' };
    var head = '<tr>' + cols.map(function (c) {
      var k = sortOf[c[0]] || c[0];
      return '<th data-key="' + k + '" class="' + (c[0] === 'name' ? 'name ' : '') + (k === st.sortKey && !sortOf[c[0]] ? 'sorted' + (st.sortAsc ? ' asc' : '') : '') + '">' + c[1] + '</th>';
    }).join('') + '</tr>';
    var thead = $('top').tHead;
    thead.innerHTML = head;
    Array.prototype.forEach.call(thead.querySelectorAll('th'), function (th) {
      th.onclick = function () {
        var k = th.dataset.key;
        if (st.sortKey === k) st.sortAsc = !st.sortAsc;
        else { st.sortKey = k; st.sortAsc = k === 'name'; }
        table();
      };
    });
    var LIMIT = 300, sum = 0, body = [], e = function (s) { return s.replace(/[&<>"]/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); };
    for (i = 0; i < rowsOut.length && i < LIMIT; i++) {
      var r = rowsOut[i], hit = st.re && st.re.test(r.name);
      sum += r.flat;
      var cells = [fmt(r.flat), pct(r.flat, T), pct(sum, T), fmt(r.cum), pct(r.cum, T)];
      var h = '<tr data-f="' + r.f + '"' + (hit ? ' class="hit"' : '') + '>' + cells.map(function (c) { return '<td>' + c + '</td>'; }).join('');
      if (diff) {
        h += '<td>' + fmt(r.bflat) + '</td><td>' + fmt(r.bcum) + '</td>';
        h += '<td class="' + (r.dflat > 0 ? 'up' : r.dflat < 0 ? 'down' : '') + '">' + (r.dflat > 0 ? '+' : '') + fmt(r.dflat) + '</td>';
        h += '<td class="' + (r.dcum > 0 ? 'up' : r.dcum < 0 ? 'down' : '') + '">' + (r.dcum > 0 ? '+' : '') + fmt(r.dcum) + '</td>';
      }
      body.push(h + '<td class="name">' + e(r.name) + '</td></tr>');
    }
    var tb = $('top').tBodies[0];
    tb.innerHTML = body.join('');
    Array.prototype.forEach.call(tb.rows, function (tr) {
      tr.onclick = function () {
        var s = $('search');
        s.value = '^' + M.funcName[+tr.dataset.f].replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '$';
        s.oninput();
      };
    });
    $('more').textContent = rowsOut.length > LIMIT ? (rowsOut.length - LIMIT) + ' more functions not shown' : '';
  }

  /* For tests and the curious: where a frame is drawn, in page coordinates. */
  window.bpfprofFlame = {
    frameRect: function (fname) {
      var r = canvas.getBoundingClientRect(), H = canvas.clientHeight;
      for (var d = 0; d < rows.length; d++) {
        for (var i = 0; i < rows[d].length; i += 3) {
          var n = rows[d][i + 2];
          if (name(n) === fname) {
            var y = st.icicle ? d * ROW : H - (d + 1) * ROW;
            return { x: r.left + window.scrollX + rows[d][i], y: r.top + window.scrollY + y, w: rows[d][i + 1], h: ROW - 1, total: n.total, self: n.self, base: n.b ? n.b.total : null };
          }
        }
      }
      return null;
    },
    rows: function () {
      return Array.prototype.map.call($('top').tBodies[0].rows, function (tr) {
        return Array.prototype.map.call(tr.cells, function (c) { return c.textContent; });
      });
    }
  };

  $('title').textContent = document.title;
  setupControls();
  rebuild(false);
  document.body.dataset.renderMs = performance.now().toFixed(1);
  document.body.dataset.ready = '1';
  /* The frame after the first one drawn: the graph is on the screen (make bench). */
  requestAnimationFrame(function () {
    setTimeout(function () { document.body.dataset.paintMs = performance.now().toFixed(1); }, 0);
  });
})();
