package ghfake

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"time"
)

// BenchmarkSeed1M seeds 1,000,000 attempts on one hook (target: < 5 s).
func BenchmarkSeed1M(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		srv := New(Options{})
		hook := srv.AddOrgHook("acme", HookConfig{URL: "http://127.0.0.1:1/"})
		b.StartTimer()
		st := srv.SeedHistory(hook, History{N: 1_000_000, From: DefaultStart.Add(-72 * time.Hour), To: DefaultStart,
			FailureRatio: 0.05, NoResponseRatio: 0.3, RecoveredRatio: 0.2, Seed: 1})
		b.StopTimer()
		if st.Attempts != 1_000_000 {
			b.Fatalf("seeded %d", st.Attempts)
		}
		srv.Close()
		b.StartTimer()
	}
}

// BenchmarkListPage serves 100-item pages over HTTP from a hook holding
// 1,000,000 attempts, at cursors spread over the history (target: median < 2 ms).
func BenchmarkListPage(b *testing.B) {
	srv := New(Options{PrimaryLimit: 1 << 30})
	defer srv.Close()
	hook := srv.AddOrgHook("acme", HookConfig{URL: "http://127.0.0.1:1/"})
	srv.AddToken(Token{Value: "ghp_bench", All: true})
	st := srv.SeedHistory(hook, History{N: 1_000_000, FailureRatio: 0.05, Seed: 1})
	atts := srv.Attempts(hook)
	cli := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	url := fmt.Sprintf("%s/orgs/acme/hooks/%d/deliveries?per_page=100", srv.URL(), hook)
	var lat []time.Duration
	i := 0
	for b.Loop() {
		u := url
		if i%4 != 0 {
			u += fmt.Sprintf("&cursor=v1_%d", atts[(i*7919)%(len(atts)-200)].ID)
		}
		i++
		start := time.Now()
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer ghp_bench")
		resp, err := cli.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if resp.StatusCode != 200 || n < 100*200 {
			b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms")
	_ = st
}

// BenchmarkAsyncRedeliver posts redeliveries over HTTP to an emulator with
// background workers and a receiver answering 200, and reports the heap
// each recorded redelivery keeps.
func BenchmarkAsyncRedeliver(b *testing.B) {
	rcv := httptestReceiver()
	defer rcv.Close()
	srv := New(Options{RedeliveryWorkers: 8, PrimaryLimit: 1 << 30, RequestLogSize: -1})
	defer srv.Close()
	hook := srv.AddOrgHook("acme", HookConfig{URL: rcv.URL, Secret: "s"})
	srv.AddToken(Token{Value: "ghp_bench", All: true})
	srv.SeedHistory(hook, History{N: 100_000, FailureRatio: 0.5, Seed: 1})
	atts := srv.Attempts(hook)
	cli := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	i := 0
	for b.Loop() {
		url := fmt.Sprintf("%s/orgs/acme/hooks/%d/deliveries/%d/attempts", srv.URL(), hook, atts[i%len(atts)].ID)
		i++
		req, _ := http.NewRequest("POST", url, nil)
		req.Header.Set("Authorization", "Bearer ghp_bench")
		resp, err := cli.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 202 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	srv.Quiesce()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(atts)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(i), "heap-B/redelivery")
}

func httptestReceiver() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
}
