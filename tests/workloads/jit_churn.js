// SPDX-License-Identifier: Apache-2.0
// A busy Node.js process whose generated code keeps growing: every tick
// creates a new function (its own source, so nothing is shared), calls it
// until V8 compiles it, and burns CPU.  Under --perf-basic-prof the perf
// map grows by a few lines per new function.  Prints "ready PID" and runs
// for the number of seconds given first; the second is the loop length
// of each call (smaller: more new functions per second).
'use strict';
const end = Date.now() + Number(process.argv[2] || 10) * 1000;
let n = 0, sink = 0;
function tick() {
	const f = new Function('return function gen' + n + '(k) { let y = ' + n +
		'; for (let i = 0; i < k; i++) y = (y * 48271 + ' + n + ') % 2147483647; return y; }')();
	for (let i = 0; i < 40; i++) sink += f(Number(process.argv[3] || 2000));
	n++;
	if (Date.now() < end) setImmediate(tick);
	else console.log('done ' + n + ' functions ' + sink);
}
console.log('ready ' + process.pid);
setImmediate(tick);
