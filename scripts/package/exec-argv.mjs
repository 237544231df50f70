// The Node.js options every standalone executable starts with (the single-executable blob's
// `execArgv`), so that they run the same way on every machine. `npm run bench` runs the bundle
// with them too, to measure what is shipped.
//
// --max-semi-space-size=4: V8's young generation stops at 2 x 4 MB instead of 2 x 16 MB. A
// controller that has just read 100,000 objects kept its young generation at its largest, 34 MB
// committed and nearly empty, for as long as it ran: measured on 10,000 namespaces, RSS after
// start-up 158-164 MB with the default, 128-132 MB with this, and start-up 2.7 s instead of
// 3.4-3.8 s; one-shot runs are no slower (a no-op sync of the same cluster: 2.2-2.7 s either
// way), and a process that allocates little never grows its young generation that far anyway.
export const EXEC_ARGV = ['--max-semi-space-size=4'];
