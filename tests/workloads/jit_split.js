// SPDX-License-Identifier: Apache-2.0
// Three JavaScript functions whose shares of CPU are 50/30/20: each runs
// the same loop for its number of rounds per tick of the event loop.  Once
// the file named by the second argument exists, a fourth function, lateFn,
// is created (compiled then, not before) and runs as well.  Prints "ready
// PID", runs for the number of seconds given first.
'use strict';
const fs = require('fs');

function work(n, seed) {
	let x = seed;
	for (let i = 0; i < n; i++) x = (x * 1103515245 + 12345) % 2147483647;
	return x;
}
function alpha(n) { return work(5 * n, 1); }
function beta(n) { return work(3 * n, 2); }
function gamma(n) { return work(2 * n, 3); }

const end = Date.now() + Number(process.argv[2] || 10) * 1000;
const trigger = process.argv[3];
let lateFn = null, ticks = 0, sink = 0;

function tick() {
	sink += alpha(20000) + beta(20000) + gamma(20000);
	if (lateFn) sink += lateFn(60000);
	else if (trigger && ++ticks % 50 === 0 && fs.existsSync(trigger))
		lateFn = new Function(
			'return function lateFn(n) { let y = 7; for (let i = 0; i < n; i++) y = (y * 48271) % 2147483647; return y; }')();
	if (Date.now() < end) setImmediate(tick);
	else console.log('done ' + sink);
}
console.log('ready ' + process.pid);
setImmediate(tick);
