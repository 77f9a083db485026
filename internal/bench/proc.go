package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

var initDurationRE = regexp.MustCompile(`Init Duration: ([0-9]+(?:\.[0-9]+)?) ms`)

// InitDurations returns the "Init Duration" of every REPORT line the Runtime
// Interface Emulator printed (one per cold start), in milliseconds.
func InitDurations(log string) []float64 {
	var out []float64
	for _, m := range initDurationRE.FindAllStringSubmatch(log, -1) {
		if v, err := strconv.ParseFloat(m[1], 64); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// FindProcess returns the pid of the running process whose argv[0] is exe
// (the Runtime Interface Emulator starts a bootstrap by its path).
func FindProcess(exe string) (int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("bench: read /proc: %w", err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		argv0, _, _ := bytes.Cut(cmd, []byte{0})
		if string(argv0) == exe {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("bench: no process runs %s", exe)
}

// PeakRSS returns a process's peak resident set size (VmHWM) in bytes.
func PeakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	return parseVmHWM(f)
}

func parseVmHWM(f *os.File) (int64, error) {
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("bench: unexpected VmHWM line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: VmHWM: %w", err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("bench: read status: %w", err)
	}
	return 0, fmt.Errorf("bench: no VmHWM in %s", f.Name())
}
