// A Runtime API stub on Go's net/http (standard library only), for the warm-path suite.
//
// AWS's Runtime API is a Go net/http server, so a runtime's warm cost is measured here
// against the same kind of server, whose own per-request cost is a few microseconds;
// a Python server's larger cost would dilute every gain. The stub speaks the same
// control protocol as stub.py, over stdin and stdout:
//
//	stdout, once:  PORT <port>
//	stdin:  RUN <n>       serve n invocations, then answer
//	        DONE <ns> ...  the n holding times, ns (event sent -> next GET /next arrives)
//	stdin:  DUMP <path>   serve one invocation and write the body it got back to path,
//	        DUMPED         (for checking a contender echoes the event)
//
// Between blocks the runtime's GET /next is held, as Lambda holds it while the
// environment is frozen. The event is the file named by the first argument.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

type stub struct {
	mu        sync.Mutex
	cond      *sync.Cond
	remaining int       // invocations left to hand out in this block
	left      time.Time // when the last event was sent; zero when none is out
	holding   []int64
	dumpPath  string
	seq       int
	event     []byte
	eventLen  []string
	out       *bufio.Writer
}

func (s *stub) report() {
	if s.dumpPath != "" {
		fmt.Fprintln(s.out, "DUMPED")
	} else {
		parts := make([]string, len(s.holding))
		for i, ns := range s.holding {
			parts[i] = strconv.FormatInt(ns, 10)
		}
		fmt.Fprintln(s.out, "DONE "+strings.Join(parts, " "))
	}
	s.out.Flush()
	s.holding = s.holding[:0]
	s.dumpPath = ""
}

func (s *stub) next(w http.ResponseWriter) {
	arrived := time.Now()
	s.mu.Lock()
	if !s.left.IsZero() {
		s.holding = append(s.holding, arrived.Sub(s.left).Nanoseconds())
		s.left = time.Time{}
		if s.remaining == 0 {
			s.report()
		}
	}
	for s.remaining == 0 {
		s.cond.Wait()
	}
	s.remaining--
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	h := w.Header()
	h["Lambda-Runtime-Aws-Request-Id"] = []string{fmt.Sprintf("8476a536-e9f4-11e8-9739-%012d", seq)}
	h["Lambda-Runtime-Deadline-Ms"] = []string{strconv.FormatInt(time.Now().Add(15*time.Minute).UnixMilli(), 10)}
	h["Lambda-Runtime-Invoked-Function-Arn"] = []string{"arn:aws:lambda:us-east-1:123456789012:function:bench"}
	h["Lambda-Runtime-Trace-Id"] = []string{"Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"}
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = s.eventLen
	w.WriteHeader(http.StatusOK)
	w.Write(s.event)
	w.(http.Flusher).Flush()
	sent := time.Now()
	s.mu.Lock()
	s.left = sent
	s.mu.Unlock()
}

func (s *stub) response(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	path := s.dumpPath
	s.mu.Unlock()
	if path != "" {
		os.WriteFile(path, body, 0o644)
	}
	// Lambda's answer byte for byte: its JSON encoder ends the body with a newline.
	w.Header()["Content-Type"] = []string{"application/json"}
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, "{\"status\":\"OK\"}\n")
}

func (s *stub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case r.Method == "GET" && path == "/2018-06-01/runtime/invocation/next":
		s.next(w)
	case r.Method == "POST" && strings.HasSuffix(path, "/response"):
		s.response(w, r)
	case r.Method == "POST" && strings.HasSuffix(path, "/error"):
		io.Copy(io.Discard, r.Body)
		fmt.Fprintln(os.Stderr, "stub: the runtime posted an error to", path)
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, r)
	}
}

func main() {
	event, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "stub:", err)
		os.Exit(2)
	}
	s := &stub{event: event, eventLen: []string{strconv.Itoa(len(event))}, out: bufio.NewWriter(os.Stdout)}
	s.cond = sync.NewCond(&s.mu)
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "stub:", err)
		os.Exit(2)
	}
	fmt.Fprintf(s.out, "PORT %d\n", listener.Addr().(*net.TCPAddr).Port)
	s.out.Flush()
	go func() {
		commands := bufio.NewScanner(os.Stdin)
		for commands.Scan() {
			fields := strings.Fields(commands.Text())
			if len(fields) != 2 {
				continue
			}
			s.mu.Lock()
			switch fields[0] {
			case "RUN":
				s.remaining, _ = strconv.Atoi(fields[1])
			case "DUMP":
				s.dumpPath, s.remaining = fields[1], 1
			}
			s.cond.Broadcast()
			s.mu.Unlock()
		}
		os.Exit(0) // the suite closed stdin: it is done with this stub
	}()
	http.Serve(listener, s)
}
