package media

import (
	"os"
	"testing"

	"github.com/recvault/recvault/internal/testtool"
)

// TestMain reports the tests skipped for a missing tool in one line.
func TestMain(m *testing.M) { os.Exit(testtool.Main(m)) }
