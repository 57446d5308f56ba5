// Package s3 is the blob.Store driver for S3-compatible object storage
// (AWS S3, MinIO, versitygw, Ceph RGW, …), built on minio-go.
//
// Committed blobs are plain objects keyed by digest. An upload is an S3
// multipart upload plus a few small objects beside it, so every piece of an
// upload's state lives in the bucket and any berth node sharing the bucket
// can continue, commit or abort an upload another node started. The layout
// and the upload protocol are drawn in paths.go and uploads.go.
//
// Every HTTP request to the store passes a semaphore (Config.MaxConcurrency)
// held until the response headers arrive, which bounds the requests in
// flight without letting a slow reader of one blob block other requests.
package s3
