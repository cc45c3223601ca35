package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// A cpuMark is this machine's CPU time so far, read from /proc: busy (every process,
// every core) and the S3 server's own. The latency mode measures each phase with one:
// where the server shares the machine, a phase that keeps every core busy can go no
// faster by any change of the client's scheduling, only by less work.
type cpuMark struct {
	busy, server float64 // seconds
	pid          int     // the server's
	ok           bool    // /proc was readable
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

func markCPU(serverPid int) cpuMark {
	m := cpuMark{pid: serverPid}
	busy, err := machineBusy()
	if err != nil {
		return m
	}
	server, err := processCPU(serverPid)
	if err != nil {
		return m
	}
	m.busy, m.server, m.ok = busy, server, true
	return m
}

// cpuUse is what a phase took of the machine's CPU, in seconds.
type cpuUse struct {
	busy, server float64
	ok           bool
}

func (m cpuMark) since() cpuUse {
	now := markCPU(m.pid)
	if !m.ok || !now.ok {
		return cpuUse{}
	}
	return cpuUse{busy: now.busy - m.busy, server: now.server - m.server, ok: true}
}

// record sets the figures name_busy_s and name_server_cpu_s.
func (u cpuUse) record(f map[string]float64, name string) {
	if u.ok {
		f[name+"_busy_s"], f[name+"_server_cpu_s"] = u.busy, u.server
	}
}

// machineBusy is the CPU time of every core not idle, waiting for I/O or stolen by
// the hypervisor: user, nice, system, irq and softirq of /proc/stat's first line.
func machineBusy() (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var ticks float64
	for _, i := range []int{1, 2, 3, 6, 7} { // user nice system irq softirq
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		ticks += v
	}
	return ticks / clockTicks, nil
}

// processCPU is a process's user and system time so far (its threads included).
func processCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: the fields start after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseFloat(f[11], 64) // field 14 of the whole line
	stime, err2 := strconv.ParseFloat(f[12], 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad CPU times", pid)
	}
	return (utime + stime) / clockTicks, nil
}
