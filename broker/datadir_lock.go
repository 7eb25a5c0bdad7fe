package broker

// The data directory lock. Two brokers on one data directory destroy each
// other's data (the second removes partition directories it does not know
// and truncates what it takes for a torn tail), so New takes an exclusive
// flock on <data-dir>/.lock before it reads or writes anything else there, as
// Kafka does with its log directories' .lock, and holds it until Close. The
// file holds the pid of the holder, so that the refusal can name it. The
// lock is the kernel's: it goes away with the process, however it ends, and a
// stale file left by a killed broker never blocks a start.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockFileName is the lock file in the data directory.
const LockFileName = ".lock"

// ErrDataDirInUse is returned (wrapped) by New when another broker holds the
// data directory.
var ErrDataDirInUse = errors.New("data directory in use")

// lockDataDir takes the data directory's lock, or says who holds it.
func lockDataDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		holder := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = fmt.Sprintf("process %d", pid)
			}
		}
		return nil, fmt.Errorf("%w: %s is locked by %s (%s); stop that tickertape first, or give this one another --data-dir",
			ErrDataDirInUse, dir, holder, path)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// unlockDataDir releases the lock (closing the file drops the flock). The
// file stays: removing it could race with a broker starting right now.
func unlockDataDir(f *os.File) {
	if f != nil {
		f.Close()
	}
}
