// Package reliability holds r2plan's fault, crash and database tests: they build the
// r2plan binary, start versitygw and PostgreSQL, seed the CharHub case, and run plan
// and apply as child processes through a fault-injecting proxy
// (internal/faultproxy), with an independent checker after every run: no reference
// that resolved before may stop resolving, no object may be lost, and the end state
// must equal a fault-free run's.
//
// go test ./internal/reliability/ runs the short variant; RELIABILITY_LONG=1 runs more
// seeds and more objects (make reliability), and prints a summary table.
package reliability
