package test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// wabridgeBinary builds ./cmd/wabridge once per test run.
func wabridgeBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wabridge-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "wabridge")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/wabridge").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proc is a child process whose output goes to a log file shown on failure.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has exited
}

func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(wabridgeBinary(t), args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			if len(lines) > 40 {
				lines = lines[len(lines)-40:]
			}
			t.Logf("--- %s log (tail) ---\n%s", name, strings.Join(lines, "\n"))
		}
	})
	return p
}

// kill9 kills the process with SIGKILL and waits for it.
func (p *proc) kill9() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// terminate sends SIGTERM and returns the exit code.
func (p *proc) terminate(timeout time.Duration) int {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("no exit within %s of SIGTERM", timeout)
	}
	return p.cmd.ProcessState.ExitCode()
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not up: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The commands a new user and an operator run: version, check-config on
// the shipped example and on a broken file, and a clean SIGTERM exit.
func TestBinaryCommands(t *testing.T) {
	bin := wabridgeBinary(t)
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "wabridge ") {
		t.Errorf("version: %v %s", err, out)
	}
	for _, f := range []string{"../config.example.toml", "../deploy/container.toml"} {
		out, err = exec.Command(bin, "check-config", "-config", f).CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", f, err, out)
		}
	}
	bad := writeFile(t, filepath.Join(t.TempDir(), "bad.toml"), "[http]\nlisten = \"127.0.0.1:8080\"\nlisen = \"x\"\n\n[whatsapp]\nbusiness_number = \"12\"\n")
	out, err = exec.Command(bin, "check-config", "-config", bad).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("bad config: exit %v, want 1", err)
	}
	for _, want := range []string{":3: http.lisen", ":6: whatsapp.business_number"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check-config output lacks %q:\n%s", want, out)
		}
	}

	dir := t.TempDir()
	cfg := writeFile(t, filepath.Join(dir, "w.toml"), fmt.Sprintf(`
[store]
path = %q
[http]
listen = "127.0.0.1:%d"
[api]
tokens = ["t"]
[sandbox]
listen = "127.0.0.1:%d"
`, filepath.Join(dir, "w.db"), freePort(t), freePort(t)))
	p := startProc(t, "serve", "serve", "-config", cfg)
	out, _ = exec.Command(bin, "check-config", "-config", cfg).CombinedOutput()
	if !strings.Contains(string(out), "ok") {
		t.Errorf("check-config: %s", out)
	}
	time.Sleep(300 * time.Millisecond)
	if code := p.terminate(20 * time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
}
