// Command keyring-oracle answers, with the kubelet's own code, which credentials the kubelet tries
// for an image given a pod's pull secrets. tests/unit/doctor-kubelet.test.ts holds doctor's
// TypeScript matching to it on thousands of generated cases.
//
// It follows the kubelet's image puller (pkg/kubelet/images/image_manager.go,
// makeLookupPullCredentialsFunc): the repository comes from parsers.ParseImageName, the keyring
// from secrets.MakeDockerKeyring over the pod's pull secrets (here with an empty node keyring and
// no credential-provider plugins), and the credentials from keyring.Lookup(repository).
//
// Input on stdin: JSON cases, one per line or one array. A case is
//
//	{"id": "...", "image": "...", "secrets": [V1Secret, ...]}
//
// with each Secret in its API JSON form (metadata.namespace/name/uid, type, data as base64).
// Output on stdout: one JSON line per case, in input order:
//
//	{"id", "repository", "credentials": [{"namespace", "name", "key", "username", "email", "hash"}],
//	 "fallback": true when they came from the Docker Hub fallback}
//	or {"id", "error", "stage": "image"|"keyring", "failedSecret": {"namespace", "name"}}
//
// "hash" is the kubelet's AuthConfigHash (sha256 of the JSON of username, password and email), so
// credentials can be told apart without printing passwords. "key" is the keyring index key the
// credentials were stored under; Lookup does not return it, so it is read back from the keyring.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"

	v1 "k8s.io/api/core/v1"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/credentialprovider"
	"k8s.io/kubernetes/pkg/credentialprovider/secrets"
	"k8s.io/kubernetes/pkg/features"
	"k8s.io/kubernetes/pkg/util/parsers"
)

type oracleCase struct {
	ID      string      `json:"id"`
	Image   string      `json:"image"`
	Secrets []v1.Secret `json:"secrets"`
}

type secretRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

type credential struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Key       string `json:"key"`
	Username  string `json:"username"`
	Email     string `json:"email,omitempty"`
	Hash      string `json:"hash"`
}

type answer struct {
	ID           string       `json:"id"`
	Repository   string       `json:"repository,omitempty"`
	Credentials  []credential `json:"credentials"`
	Fallback     bool         `json:"fallback,omitempty"`
	Error        string       `json:"error,omitempty"`
	Stage        string       `json:"stage,omitempty"`
	FailedSecret *secretRef   `json:"failedSecret,omitempty"`
}

// The kubelet's node keyring and credential-provider keyring, both empty here: only pull secrets.
func emptyNodeKeyring() credentialprovider.DockerKeyring {
	return credentialprovider.UnionDockerKeyring{&credentialprovider.BasicDockerKeyring{}}
}

func lookup(c oracleCase) answer {
	result := answer{ID: c.ID, Credentials: []credential{}}
	repository, _, _, err := parsers.ParseImageName(c.Image)
	if err != nil {
		result.Error, result.Stage = err.Error(), "image"
		return result
	}
	result.Repository = repository
	keyring, err := secrets.MakeDockerKeyring(c.Secrets, emptyNodeKeyring())
	if err != nil {
		result.Error, result.Stage = err.Error(), "keyring"
		// MakeDockerKeyring reads the secrets in order and stops at the first it cannot read, so
		// the first that fails alone is the one that failed the list.
		for _, secret := range c.Secrets {
			if _, alone := secrets.MakeDockerKeyring([]v1.Secret{secret}, emptyNodeKeyring()); alone != nil {
				result.FailedSecret = &secretRef{Namespace: secret.Namespace, Name: secret.Name}
				break
			}
		}
		return result
	}
	found, _ := keyring.Lookup(repository)
	keys, fallback, err := keysOf(keyring, repository, found)
	if err != nil {
		result.Error, result.Stage = err.Error(), "oracle"
		return result
	}
	result.Fallback = fallback
	for i, tracked := range found {
		entry := credential{Key: keys[i], Username: tracked.Username, Email: tracked.Email, Hash: tracked.AuthConfigHash}
		if tracked.Source != nil && tracked.Source.Secret != nil {
			entry.Namespace, entry.Name = tracked.Source.Secret.Namespace, tracked.Source.Secret.Name
		}
		result.Credentials = append(result.Credentials, entry)
	}
	return result
}

// keysOf reads back the index key of every credential Lookup returned. Lookup walks the keyring's
// (unexported) index in order and appends creds[key] for each key that URLsMatchStr matches, or
// else returns creds["index.docker.io"] for a Docker Hub image; the same walk over the real index
// (read with reflect) gives the keys, and is checked against what Lookup returned.
func keysOf(keyring credentialprovider.DockerKeyring, repository string, found []credentialprovider.TrackedAuthConfig) ([]string, bool, error) {
	union, ok := keyring.(credentialprovider.UnionDockerKeyring)
	if !ok || len(union) == 0 {
		if len(found) == 0 {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("oracle: MakeDockerKeyring returned %T, not a union with the pull secrets first", keyring)
	}
	fromSecrets, ok := union[0].(*credentialprovider.BasicDockerKeyring)
	if !ok {
		if len(found) == 0 {
			return nil, false, nil // no pull secret was read: only the (empty) node keyring
		}
		return nil, false, fmt.Errorf("oracle: the pull-secret keyring is %T", union[0])
	}
	value := reflect.ValueOf(fromSecrets).Elem()
	index, creds := value.FieldByName("index"), value.FieldByName("creds")
	if !index.IsValid() || !creds.IsValid() {
		return nil, false, fmt.Errorf("oracle: BasicDockerKeyring has no index/creds fields any more")
	}
	var keys []string
	var hashes []string
	appendKey := func(key string) {
		stored := creds.MapIndex(reflect.ValueOf(key))
		if !stored.IsValid() {
			return
		}
		for i := 0; i < stored.Len(); i++ {
			keys = append(keys, key)
			hashes = append(hashes, stored.Index(i).FieldByName("AuthConfigHash").String())
		}
	}
	for i := 0; i < index.Len(); i++ {
		key := index.Index(i).String()
		if matched, _ := credentialprovider.URLsMatchStr(key, repository); matched {
			appendKey(key)
		}
	}
	fallback := false
	if len(keys) == 0 && len(found) > 0 {
		fallback = true
		appendKey("index.docker.io")
	}
	if len(keys) != len(found) {
		return nil, false, fmt.Errorf("oracle: read back %d keys for %d credentials", len(keys), len(found))
	}
	for i := range found {
		if hashes[i] != found[i].AuthConfigHash {
			return nil, false, fmt.Errorf("oracle: credential %d read back out of order", i)
		}
	}
	return keys, fallback, nil
}

// readCases accepts a JSON array or a stream of JSON values (one per line or not).
func readCases(input io.Reader) ([]oracleCase, error) {
	data, err := io.ReadAll(input)
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var cases []oracleCase
		if err := json.Unmarshal(trimmed, &cases); err != nil {
			return nil, fmt.Errorf("reading the case array: %w", err)
		}
		return cases, nil
	}
	var cases []oracleCase
	decoder := json.NewDecoder(bytes.NewReader(trimmed))
	for decoder.More() {
		var c oracleCase
		if err := decoder.Decode(&c); err != nil {
			return nil, fmt.Errorf("reading case %d: %w", len(cases)+1, err)
		}
		cases = append(cases, c)
	}
	return cases, nil
}

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: keyring-oracle < cases.json (JSON cases on stdin, one JSON answer per line on stdout)")
	}
	flag.Parse()
	// The keyring logs every auths key it cannot parse; the answers already say what it kept.
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	_ = klogFlags.Set("logtostderr", "false")
	_ = klogFlags.Set("alsologtostderr", "false")
	_ = klogFlags.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
	// On by default since 1.35; set anyway, because without it the credentials carry no Source
	// (secret coordinates) and no hash.
	if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(map[string]bool{string(features.KubeletEnsureSecretPulledImages): true}); err != nil {
		fmt.Fprintf(os.Stderr, "keyring-oracle: %v\n", err)
		os.Exit(1)
	}

	cases, err := readCases(os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "keyring-oracle: %v\n", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	encoder := json.NewEncoder(out)
	for _, c := range cases {
		if err := encoder.Encode(lookup(c)); err != nil {
			fmt.Fprintf(os.Stderr, "keyring-oracle: %v\n", err)
			os.Exit(1)
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(os.Stderr, "keyring-oracle: %v\n", err)
		os.Exit(1)
	}
}
