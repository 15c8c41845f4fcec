package localaws

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// objectStore keeps each bucket as a directory and each object as one
// file: a line of JSON metadata, then the body. The file is named by a
// hash of the key, so any key (up to S3's 1024 bytes) fits a file name,
// and written through a rename, so a crash never leaves half an object.
type objectStore struct {
	dir string
	now func() time.Time
	mu  sync.RWMutex
}

// objectMeta is what S3 says of an object besides its body.
type objectMeta struct {
	Key      string    `json:"key"`
	ETag     string    `json:"etag"` // hex MD5, without quotes
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
	Type     string    `json:"content_type,omitempty"`
}

var (
	errNoSuchBucket   = errors.New("no such bucket")
	errNoSuchKey      = errors.New("no such key")
	errBucketNotEmpty = errors.New("bucket not empty")
	// bucketNameRe is S3's rule for new buckets (less the dotted-IP rule).
	bucketNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

const objSuffix = ".obj"

func openObjects(dir string, now func() time.Time) (*objectStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("localaws: creating the S3 directory: %w", err)
	}
	return &objectStore{dir: dir, now: now}, nil
}

func (o *objectStore) bucketDir(bucket string) string { return filepath.Join(o.dir, bucket) }

func (o *objectStore) objPath(bucket, key string) string {
	h := sha256.Sum256([]byte(key))
	return filepath.Join(o.bucketDir(bucket), hex.EncodeToString(h[:])+objSuffix)
}

// validBucket checks a bucket name; the name is also a directory name,
// so the check keeps requests inside the store.
func validBucket(name string) error {
	if !bucketNameRe.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("bucket name %q: want 3-63 lower-case letters, digits, '.' and '-'", name)
	}
	return nil
}

func (o *objectStore) hasBucket(bucket string) bool {
	fi, err := os.Stat(o.bucketDir(bucket))
	return err == nil && fi.IsDir()
}

// createBucket makes a bucket; an existing one is left as it is.
func (o *objectStore) createBucket(bucket string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := os.MkdirAll(o.bucketDir(bucket), 0o700); err != nil {
		return fmt.Errorf("creating bucket %s: %w", bucket, err)
	}
	return nil
}

func (o *objectStore) deleteBucket(bucket string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.hasBucket(bucket) {
		return errNoSuchBucket
	}
	ents, err := os.ReadDir(o.bucketDir(bucket))
	if err != nil {
		return err
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), objSuffix) {
			return errBucketNotEmpty
		}
	}
	return os.RemoveAll(o.bucketDir(bucket))
}

// put stores an object and returns its metadata.
func (o *objectStore) put(bucket, key, contentType string, body []byte) (objectMeta, error) {
	sum := md5.Sum(body)
	m := objectMeta{Key: key, ETag: hex.EncodeToString(sum[:]), Size: int64(len(body)), Modified: o.now().UTC().Truncate(time.Millisecond), Type: contentType}
	head, err := json.Marshal(m)
	if err != nil {
		return m, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.hasBucket(bucket) {
		return m, errNoSuchBucket
	}
	buf := make([]byte, 0, len(head)+1+len(body))
	buf = append(append(append(buf, head...), '\n'), body...)
	if err := writeFileAtomic(o.objPath(bucket, key), buf); err != nil {
		return m, fmt.Errorf("storing s3://%s/%s: %w", bucket, key, err)
	}
	return m, nil
}

// get reads an object (body nil when headOnly).
func (o *objectStore) get(bucket, key string, headOnly bool) (objectMeta, []byte, error) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if !o.hasBucket(bucket) {
		return objectMeta{}, nil, errNoSuchBucket
	}
	b, err := os.ReadFile(o.objPath(bucket, key))
	if errors.Is(err, fs.ErrNotExist) {
		return objectMeta{}, nil, errNoSuchKey
	}
	if err != nil {
		return objectMeta{}, nil, fmt.Errorf("reading s3://%s/%s: %w", bucket, key, err)
	}
	m, body, err := splitObject(b)
	if err != nil {
		return m, nil, fmt.Errorf("reading s3://%s/%s: %w", bucket, key, err)
	}
	if m.Key != key { // a hash collision: never in practice, but never the wrong object
		return objectMeta{}, nil, errNoSuchKey
	}
	if headOnly {
		body = nil
	}
	return m, body, nil
}

func splitObject(b []byte) (objectMeta, []byte, error) {
	var m objectMeta
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return m, nil, errors.New("a damaged object file (no metadata line)")
	}
	if err := json.Unmarshal(b[:i], &m); err != nil {
		return m, nil, fmt.Errorf("a damaged object file: %w", err)
	}
	return m, b[i+1:], nil
}

// remove deletes an object; a missing one is not an error (as in S3).
func (o *objectStore) remove(bucket, key string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.hasBucket(bucket) {
		return errNoSuchBucket
	}
	if err := os.Remove(o.objPath(bucket, key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// list returns the metadata of the bucket's objects under prefix, sorted
// by key. It reads every object's first line: fine for a sandbox's
// thousands of objects, not for millions.
func (o *objectStore) list(bucket, prefix string) ([]objectMeta, error) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if !o.hasBucket(bucket) {
		return nil, errNoSuchBucket
	}
	ents, err := os.ReadDir(o.bucketDir(bucket))
	if err != nil {
		return nil, fmt.Errorf("listing bucket %s: %w", bucket, err)
	}
	var out []objectMeta
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), objSuffix) {
			continue
		}
		m, err := readMeta(filepath.Join(o.bucketDir(bucket), e.Name()))
		if err != nil {
			return nil, fmt.Errorf("listing bucket %s: %w", bucket, err)
		}
		if strings.HasPrefix(m.Key, prefix) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b objectMeta) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func readMeta(path string) (objectMeta, error) {
	var m objectMeta
	f, err := os.Open(path)
	if err != nil {
		return m, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadBytes('\n')
	if err != nil {
		return m, fmt.Errorf("%s: a damaged object file: %w", filepath.Base(path), err)
	}
	if err := json.Unmarshal(line, &m); err != nil {
		return m, fmt.Errorf("%s: a damaged object file: %w", filepath.Base(path), err)
	}
	return m, nil
}

// expire deletes the objects of every bucket modified before cutoff.
func (o *objectStore) expire(cutoff time.Time) (int, error) {
	buckets, err := os.ReadDir(o.dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, b := range buckets {
		if !b.IsDir() {
			continue
		}
		objs, err := o.list(b.Name(), "")
		if err != nil {
			return n, err
		}
		for _, m := range objs {
			if m.Modified.Before(cutoff) {
				if err := o.remove(b.Name(), m.Key); err != nil {
					return n, err
				}
				n++
			}
		}
	}
	return n, nil
}
