package main

import (
	"os"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/sqlite"
)

// spillQueue makes the disk queue a run moves a large backlog of
// redeliveries into, in the system's temporary directory (TMPDIR).
func spillQueue() (redeliver.Queue, error) { return sqlite.NewQueue(os.TempDir()) }
