package scan

import (
	"errors"
	"strings"
)

// ErrNoPaths is returned by DefaultRoots where there is no default: on
// every system but Windows.
var ErrNoPaths = errors.New("no PATH given: name the driver files or folders to scan, e.g. `hvcicheck scan ./build/Release` (only on Windows does a scan without PATH look at the installed drivers)")

// DefaultRoots returns the folders scanned when no path is given: on
// Windows (goos "windows") the installed drivers, %SystemRoot%\System32\drivers
// and the driver store %SystemRoot%\System32\DriverStore\FileRepository;
// elsewhere ErrNoPaths. getenv looks up environment variables (os.Getenv).
func DefaultRoots(goos string, getenv func(string) string) ([]string, error) {
	if goos != "windows" {
		return nil, ErrNoPaths
	}
	root := getenv("SystemRoot")
	if root == "" {
		root = getenv("windir")
	}
	if root == "" {
		root = `C:\Windows`
	}
	root = strings.TrimRight(root, `\/`)
	return []string{
		root + `\System32\drivers`,
		root + `\System32\DriverStore\FileRepository`,
	}, nil
}
