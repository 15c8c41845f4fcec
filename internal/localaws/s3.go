package localaws

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxObject bounds an object's size: query log objects are a few MB.
const maxObject = 256 << 20

// s3Error is an S3 error response.
type s3Error struct {
	Status  int
	Code    string
	Message string
}

func (e *s3Error) Error() string { return e.Code + ": " + e.Message }

func s3Err(status int, code, format string, args ...any) *s3Error {
	return &s3Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func writeS3Error(w http.ResponseWriter, r *http.Request, err error) {
	var se *s3Error
	switch {
	case errors.As(err, &se):
	case errors.Is(err, errNoSuchBucket):
		se = s3Err(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
	case errors.Is(err, errNoSuchKey):
		se = s3Err(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	case errors.Is(err, errBucketNotEmpty):
		se = s3Err(http.StatusConflict, "BucketNotEmpty", "The bucket you tried to delete is not empty")
	default:
		se = s3Err(http.StatusInternalServerError, "InternalError", "%v", err)
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("x-amz-request-id", newID(8))
	w.WriteHeader(se.Status)
	if r.Method == http.MethodHead {
		return
	}
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		Resource  string
		RequestID string `xml:"RequestId"`
	}{Code: se.Code, Message: se.Message, Resource: r.URL.Path, RequestID: newID(8)})
}

func writeXML(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	_, _ = w.Write(buf.Bytes())
}

// serveS3 answers path-style requests: /bucket and /bucket/key.
func (s *Server) serveS3(w http.ResponseWriter, r *http.Request) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	var err error
	switch {
	case bucket == "":
		err = s3Err(http.StatusNotImplemented, "NotImplemented", "the local S3 does not list buckets")
	case validBucket(bucket) != nil:
		err = s3Err(http.StatusBadRequest, "InvalidBucketName", "%v", validBucket(bucket))
	case key == "":
		err = s.serveBucket(w, r, bucket)
	default:
		err = s.serveObject(w, r, bucket, key)
	}
	if err != nil {
		writeS3Error(w, r, err)
	}
}

func (s *Server) serveBucket(w http.ResponseWriter, r *http.Request, bucket string) error {
	q := r.URL.Query()
	q.Del("x-id") // the SDK names the operation; the method and path say it
	switch {
	case q.Has("notification") && r.Method == http.MethodGet:
		return s.getNotification(w, bucket)
	case q.Has("notification") && r.Method == http.MethodPut:
		return s.putNotification(w, r, bucket)
	case r.Method == http.MethodPut && len(q) == 0:
		if err := s.objects.createBucket(bucket); err != nil {
			return err
		}
		w.Header().Set("Location", "/"+bucket)
		return nil
	case r.Method == http.MethodHead && len(q) == 0:
		if !s.objects.hasBucket(bucket) {
			return errNoSuchBucket
		}
		return nil
	case r.Method == http.MethodDelete && len(q) == 0:
		if err := s.objects.deleteBucket(bucket); err != nil {
			return err
		}
		s.dropNotification(bucket)
		w.WriteHeader(http.StatusNoContent)
		return nil
	case r.Method == http.MethodGet && q.Get("list-type") == "2":
		return s.listObjects(w, r, bucket)
	}
	return s3Err(http.StatusNotImplemented, "NotImplemented", "the local S3 does not support %s %s", r.Method, r.URL.RequestURI())
}

func (s *Server) serveObject(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	if len(key) > 1024 {
		return s3Err(http.StatusBadRequest, "KeyTooLongError", "Your key is too long")
	}
	q := r.URL.Query()
	q.Del("x-id")
	if len(q) > 0 || r.Header.Get("x-amz-copy-source") != "" || r.Header.Get("Range") != "" {
		return s3Err(http.StatusNotImplemented, "NotImplemented", "the local S3 supports only whole-object PUT, GET, HEAD and DELETE")
	}
	switch r.Method {
	case http.MethodPut:
		return s.putObject(w, r, bucket, key)
	case http.MethodGet, http.MethodHead:
		m, body, err := s.objects.get(bucket, key, r.Method == http.MethodHead)
		if err != nil {
			return err
		}
		h := w.Header()
		h.Set("ETag", `"`+m.ETag+`"`)
		h.Set("Last-Modified", m.Modified.Format(http.TimeFormat))
		h.Set("Content-Length", strconv.FormatInt(m.Size, 10))
		h.Set("Content-Type", cmpOr(m.Type, "binary/octet-stream"))
		if r.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
		return nil
	case http.MethodDelete:
		if err := s.objects.remove(bucket, key); err != nil {
			return err
		}
		s.notifyObject(bucket, "ObjectRemoved:Delete", objectMeta{Key: key}, r)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return s3Err(http.StatusMethodNotAllowed, "MethodNotAllowed", "%s is not allowed on an object", r.Method)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *Server) putObject(w http.ResponseWriter, r *http.Request, bucket, key string) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxObject+1))
	if err != nil {
		return s3Err(http.StatusBadRequest, "IncompleteBody", "reading the body: %v", err)
	}
	if len(body) > maxObject {
		return s3Err(http.StatusBadRequest, "EntityTooLarge", "the local S3 takes objects of at most %d bytes", maxObject)
	}
	if isChunked(r) {
		if body, err = decodeChunked(body); err != nil {
			return s3Err(http.StatusBadRequest, "IncompleteBody", "%v", err)
		}
		if dl := r.Header.Get("x-amz-decoded-content-length"); dl != "" && dl != strconv.Itoa(len(body)) {
			return s3Err(http.StatusBadRequest, "IncompleteBody", "the body has %d bytes, x-amz-decoded-content-length says %s", len(body), dl)
		}
	}
	if want := r.Header.Get("Content-MD5"); want != "" {
		sum := md5.Sum(body)
		if base64.StdEncoding.EncodeToString(sum[:]) != want {
			return s3Err(http.StatusBadRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.")
		}
	}
	m, err := s.objects.put(bucket, key, r.Header.Get("Content-Type"), body)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", `"`+m.ETag+`"`)
	s.notifyObject(bucket, "ObjectCreated:Put", m, r)
	return nil
}

// isChunked says whether the body is in aws-chunked encoding (what the
// SDK sends when it streams a payload with a trailing checksum).
func isChunked(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") ||
		strings.HasPrefix(r.Header.Get("x-amz-content-sha256"), "STREAMING-")
}

// decodeChunked reads an aws-chunked body: chunks of "HEX[;ext]\r\n",
// data, "\r\n", ending with a chunk of size 0 and optional trailers.
// Chunk signatures are not checked (nor are any signatures here).
func decodeChunked(b []byte) ([]byte, error) {
	var out []byte
	for {
		line, rest, ok := bytes.Cut(b, []byte("\r\n"))
		if !ok {
			return nil, errors.New("aws-chunked body: a chunk header without its line end")
		}
		sizeText, _, _ := bytes.Cut(line, []byte(";"))
		size, err := strconv.ParseInt(string(bytes.TrimSpace(sizeText)), 16, 64)
		if err != nil || size < 0 || size > int64(len(rest)) {
			return nil, fmt.Errorf("aws-chunked body: bad chunk size %q", sizeText)
		}
		if size == 0 {
			return out, nil // trailers (checksums) follow: not checked
		}
		out = append(out, rest[:size]...)
		rest = rest[size:]
		if !bytes.HasPrefix(rest, []byte("\r\n")) {
			return nil, errors.New("aws-chunked body: a chunk not followed by its line end")
		}
		b = rest[2:]
	}
}

type listContent struct {
	Key          string
	LastModified string
	ETag         string
	Size         int64
	StorageClass string
}

type listResult struct {
	XMLName               xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string
	Prefix                string
	Delimiter             string `xml:",omitempty"`
	MaxKeys               int
	KeyCount              int
	IsTruncated           bool
	EncodingType          string `xml:",omitempty"`
	ContinuationToken     string `xml:",omitempty"`
	NextContinuationToken string `xml:",omitempty"`
	StartAfter            string `xml:",omitempty"`
	Contents              []listContent
	CommonPrefixes        []struct{ Prefix string }
}

// listObjects is ListObjectsV2, with prefix, delimiter, max-keys,
// start-after and continuation tokens.
func (s *Server) listObjects(w http.ResponseWriter, r *http.Request, bucket string) error {
	q := r.URL.Query()
	res := listResult{Name: bucket, Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), MaxKeys: 1000,
		ContinuationToken: q.Get("continuation-token"), StartAfter: q.Get("start-after"), EncodingType: q.Get("encoding-type")}
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return s3Err(http.StatusBadRequest, "InvalidArgument", "max-keys %q: want a number from 0", v)
		}
		res.MaxKeys = min(n, 1000)
	}
	after := res.StartAfter
	if res.ContinuationToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(res.ContinuationToken)
		if err != nil {
			return s3Err(http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect")
		}
		after = string(b)
	}
	objs, err := s.objects.list(bucket, res.Prefix)
	if err != nil {
		return err
	}
	enc := func(k string) string {
		if res.EncodingType == "url" {
			return s3KeyEscape(k)
		}
		return k
	}
	seen := map[string]bool{}
	last := ""
	for _, m := range objs {
		if m.Key <= after {
			continue
		}
		p := commonPrefix(m.Key, res.Prefix, res.Delimiter)
		if p != "" && seen[p] {
			last = m.Key // rolled up in a prefix already returned
			continue
		}
		if res.KeyCount >= res.MaxKeys {
			res.IsTruncated = true
			res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(last))
			break
		}
		last = m.Key
		if p != "" {
			seen[p] = true
			res.CommonPrefixes = append(res.CommonPrefixes, struct{ Prefix string }{enc(p)})
			res.KeyCount++
			continue
		}
		res.Contents = append(res.Contents, listContent{Key: enc(m.Key), LastModified: m.Modified.Format(time.RFC3339Nano),
			ETag: `"` + m.ETag + `"`, Size: m.Size, StorageClass: "STANDARD"})
		res.KeyCount++
	}
	res.Prefix, res.StartAfter = enc(res.Prefix), enc(res.StartAfter)
	writeXML(w, res)
	return nil
}

// commonPrefix is the prefix a key rolls up into under a delimiter ("":
// none).
func commonPrefix(key, prefix, delim string) string {
	if delim == "" {
		return ""
	}
	if i := strings.Index(key[len(prefix):], delim); i >= 0 {
		return key[:len(prefix)+i+len(delim)]
	}
	return ""
}
