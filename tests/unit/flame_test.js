// SPDX-License-Identifier: Apache-2.0
/*
 * The flame graph page's tree code (web/flame.js) under node, on the data
 * test_flame.c writes for its known profiles (see known_profile() there):
 *   inl (inlined in work) < work < main        cpu 10  pid 1
 *   memcpy < work < main                       cpu 20  pid 2
 *   kfunc < main                               cpu 30  pid 1
 *   work (another address) < main              cpu 40  pid 2
 *   work < work < main                         cpu 50  pid 1
 * and a base of one stack, work < main, cpu 100 (sample types reversed).
 * usage: node flame_test.js DATA.json; exit status 1 on any failure.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const F = require(path.join(__dirname, '../../web/flame.js'));

const m = F.decodeModel(JSON.parse(fs.readFileSync(process.argv[2], 'utf8')));
let failed = 0;
function eq(what, got, want) {
  if (got !== want) {
    console.log('FAIL: ' + what + ': got ' + got + ', want ' + want);
    failed++;
  }
}
const fid = (name) => m.funcName.indexOf(name);
let root;
const kid = (n, name) => F.child(n, fid(name));

const CPU = 1, COUNT = 0;
root = F.buildTree(m, m.profiles[0], CPU, {});
eq('root total (cpu)', root.total, 150);
const main = kid(root, 'main');
eq('main cum', main.total, 150);
eq('main has two children (work merged across addresses, kfunc)', main.list.length, 2);
const work = kid(main, 'work');
eq('work under main', work.total, 120);
eq('work self (leaf of the 40 stack)', work.self, 40);
eq('work line: 20 and 21 are several', work.line, -1);
eq('inlined frame below the function it was inlined into', kid(work, 'inl').total, 10);
eq('inl line', kid(work, 'inl').line, 3);
eq('memcpy under work', kid(work, 'memcpy').total, 20);
eq('recursion: work under work', kid(work, 'work').total, 50);
eq('largest child first', main.list[0].f, fid('work'));

const t = F.functionTotals(m, root);
eq('work cum counts recursion once', t.cum[fid('work')], 120);
eq('work flat', t.flat[fid('work')], 90);
eq('main flat', t.flat[fid('main')], 0);
eq('kfunc flat', t.flat[fid('kfunc')], 30);
const tz = F.functionTotals(m, work);
eq('zoomed on work: memcpy cum', tz.cum[fid('memcpy')], 20);
eq('zoomed on work: kfunc is outside', tz.cum[fid('kfunc')], 0);

eq('search: work, outermost matches only', F.matchedTotal(m, root, /^work$/), 120);
eq('search: a regex over several', F.matchedTotal(m, root, /^(kfunc|memcpy)$/), 50);

eq('sample type count', F.buildTree(m, m.profiles[0], COUNT, {}).total, 15);
eq('label filter pid=1', F.buildTree(m, m.profiles[0], CPU, { pid: new Set(['1']) }).total, 90);
eq('label filter pid=2', F.buildTree(m, m.profiles[0], CPU, { pid: new Set(['2']) }).total, 60);
eq('label filter on a value nobody has', F.buildTree(m, m.profiles[0], CPU, { pid: new Set(['9']) }).total, 0);

const base = F.buildTree(m, m.profiles[1], CPU, {});
eq('base total in the page sample type order (cpu)', base.total, 100);
eq('base total (count)', F.buildTree(m, m.profiles[1], COUNT, {}).total, 10);
F.matchBase(root, base);
eq('diff: work matched to base', kid(main, 'work').b.total, 100);
eq('diff: kfunc has no base', kid(main, 'kfunc').b, null);
eq('diff: memcpy has no base', kid(work, 'memcpy').b, null);

eq('format ns', F.formatValue(1500000000, 'nanoseconds'), '1.5s');
eq('format bytes', F.formatValue(3 * 1048576, 'bytes'), '3MB');
eq('format count', F.formatValue(42, 'count'), '42');
eq('format negative', F.formatValue(-20200000, 'nanoseconds'), '-20.2ms');

console.log(failed ? 'flame_test: ' + failed + ' failed' : 'flame_test: ok');
process.exit(failed ? 1 : 0);
