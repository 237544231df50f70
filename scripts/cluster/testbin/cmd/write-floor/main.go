// Command write-floor makes exactly the writes `kubectl pullsecret sync` makes when it converges
// namespaces from nothing — one Secret POST per namespace, then one JSON patch per
// ServiceAccount attaching it — at full concurrency, with no reads, no retries and no rate
// limit. Its time is the floor `npm run bench -- sync` holds sync to (sync / floor).
//
//	write-floor --kubeconfig FILE --namespaces FILE --secret FILE [--service-accounts a,b,c] [--concurrency 64]
//
// --namespaces: one namespace per line. --secret: the Secret to create in each, as JSON (no
// namespace). Prints one JSON line: {"ms": wall time, "posts": n, "patches": n, "errors": n}.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/flowcontrol"
)

type write struct {
	namespace      string
	serviceAccount string // empty: the Secret
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the cluster")
	namespacesFile := flag.String("namespaces", "", "file with one namespace per line")
	secretFile := flag.String("secret", "", "the Secret to create in each namespace, as JSON")
	serviceAccounts := flag.String("service-accounts", "default", "ServiceAccounts to attach it to in each namespace")
	concurrency := flag.Int("concurrency", 64, "requests in flight")
	flag.Parse()
	if err := run(*kubeconfig, *namespacesFile, *secretFile, strings.Split(*serviceAccounts, ","), *concurrency); err != nil {
		fmt.Fprintf(os.Stderr, "write-floor: %v\n", err)
		os.Exit(1)
	}
}

func run(kubeconfig, namespacesFile, secretFile string, serviceAccounts []string, concurrency int) error {
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	// No client-side rate limit, and enough connections for every request in flight.
	config.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter()
	config.QPS, config.Burst = -1, -1
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	var secret corev1.Secret
	data, err := os.ReadFile(secretFile)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &secret); err != nil {
		return fmt.Errorf("reading --secret: %w", err)
	}
	namespaces, err := readLines(namespacesFile)
	if err != nil {
		return err
	}
	patch, _ := json.Marshal([]map[string]any{{"op": "add", "path": "/imagePullSecrets", "value": []map[string]string{{"name": secret.Name}}}})

	// A Secret's attaches are queued once it exists, as sync does; every worker takes whatever
	// write is next.
	queue := make(chan write, len(namespaces)*(1+len(serviceAccounts)))
	var pending sync.WaitGroup
	var posts, patches, failures atomic.Int64
	ctx := context.Background()
	pending.Add(len(namespaces) * (1 + len(serviceAccounts)))
	started := time.Now()
	for _, namespace := range namespaces {
		queue <- write{namespace: namespace}
	}
	for i := 0; i < concurrency; i++ {
		go func() {
			for w := range queue {
				if w.serviceAccount == "" {
					body := secret.DeepCopy()
					body.Namespace = w.namespace
					_, err := client.CoreV1().Secrets(w.namespace).Create(ctx, body, metav1.CreateOptions{FieldManager: "kubectl-pullsecret"})
					posts.Add(1)
					if err != nil {
						failures.Add(1)
						fmt.Fprintf(os.Stderr, "write-floor: secret in %s: %v\n", w.namespace, err)
						pending.Add(-len(serviceAccounts))
					} else {
						for _, name := range serviceAccounts {
							queue <- write{namespace: w.namespace, serviceAccount: name}
						}
					}
				} else {
					_, err := client.CoreV1().ServiceAccounts(w.namespace).Patch(ctx, w.serviceAccount, types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-pullsecret"})
					patches.Add(1)
					if err != nil {
						failures.Add(1)
						fmt.Fprintf(os.Stderr, "write-floor: serviceaccount %s/%s: %v\n", w.namespace, w.serviceAccount, err)
					}
				}
				pending.Done()
			}
		}()
	}
	pending.Wait()
	elapsed := time.Since(started)
	close(queue)
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"ms": float64(elapsed.Microseconds()) / 1000, "posts": posts.Load(), "patches": patches.Load(), "errors": failures.Load(),
	})
}

func readLines(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if line := strings.TrimSpace(scanner.Text()); line != "" {
			lines = append(lines, line)
		}
	}
	return lines, scanner.Err()
}
