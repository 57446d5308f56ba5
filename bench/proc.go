package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicksPerSec is USER_HZ, the unit of utime/stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports (the kernel exports
// ticks scaled to USER_HZ whatever CONFIG_HZ is), and reading sysconf would
// need cgo.
const clockTicksPerSec = 100

// parseStatCPU returns utime+stime (clock ticks) from the contents of
// /proc/PID/stat. The command name (field 2) may contain spaces and
// parentheses, so fields are counted after its last ')'.
func parseStatCPU(stat string) (uint64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat: no ')'")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed stat: %d fields after comm", len(f))
	}
	ut, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("utime: %w", err)
	}
	st, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stime: %w", err)
	}
	return ut + st, nil
}

// cpuTime reads the total user+system CPU time the process has used.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("server process %d: %w", pid, err)
	}
	ticks, err := parseStatCPU(string(b))
	if err != nil {
		return 0, err
	}
	return time.Duration(ticks) * (time.Second / clockTicksPerSec), nil
}

// parseStatusKB returns the value of a "Field:   123 kB" line of
// /proc/PID/status, in bytes.
func parseStatusKB(status, field string) (int64, error) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != field {
			continue
		}
		num := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", field, err)
		}
		return n * 1024, nil
	}
	return 0, fmt.Errorf("%s not found in status", field)
}

// statusBytes reads one kB field (VmRSS, VmHWM) of /proc/PID/status.
func statusBytes(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("server process %d: %w", pid, err)
	}
	return parseStatusKB(string(b), field)
}

// rssSampler records the maximum VmRSS of a process, sampled periodically
// while a scenario runs (VmHWM cannot be reset between scenarios).
type rssSampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}

	mu  sync.Mutex
	max int64
	err error
}

func startRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *rssSampler) sample() {
	v, err := statusBytes(s.pid, "VmRSS")
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return
	}
	s.max = max(s.max, v)
}

// Stop takes a last sample and returns the peak RSS in bytes; an error
// means the process disappeared (crashed) while sampled.
func (s *rssSampler) Stop() (int64, error) {
	close(s.stop)
	<-s.done
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max, s.err
}

// parseProcStatBusy returns the clock ticks all CPUs spent in user, nice,
// system and steal time from the contents of /proc/stat. Idle and iowait
// are not busy; irq and softirq are left out because loopback traffic of
// the benchmark itself is processed there and charged to no process.
func parseProcStatBusy(stat string) (uint64, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("malformed /proc/stat first line %q", line)
	}
	var busy uint64
	// user nice system idle iowait irq softirq steal
	for i, v := range f[1:9] {
		if i >= 3 && i <= 6 {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		busy += n
	}
	return busy, nil
}

// cpuSnapshot is the machine's busy CPU time and the shares of it used by
// the registry, by helper processes of the scenario (the replication
// destination) and by this program, to tell how much other processes
// disturbed a measurement.
type cpuSnapshot struct {
	at                          time.Time
	total, server, helpers, own time.Duration
}

func takeCPUSnapshot(serverPID int, helperPIDs ...int) (cpuSnapshot, error) {
	s := cpuSnapshot{at: time.Now()}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	ticks, err := parseProcStatBusy(string(b))
	if err != nil {
		return s, err
	}
	s.total = time.Duration(ticks) * (time.Second / clockTicksPerSec)
	if s.own, err = cpuTime(os.Getpid()); err != nil {
		return s, err
	}
	if serverPID > 0 {
		if s.server, err = cpuTime(serverPID); err != nil {
			return s, err
		}
	}
	for _, pid := range helperPIDs {
		t, err := cpuTime(pid)
		if err != nil {
			return s, err
		}
		s.helpers += t
	}
	return s, nil
}

// foreignCores is the average number of CPUs other processes kept busy
// between two snapshots.
func foreignCores(a, b cpuSnapshot) float64 {
	el := b.at.Sub(a.at)
	if el <= 0 {
		return 0
	}
	foreign := (b.total - a.total) - (b.server - a.server) - (b.helpers - a.helpers) - (b.own - a.own)
	return max(0, foreign.Seconds()/el.Seconds())
}

// loadAverage returns the 1-minute load average.
func loadAverage() (float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("empty /proc/loadavg")
	}
	return strconv.ParseFloat(f[0], 64)
}
