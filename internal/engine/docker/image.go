package docker

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// ImageRepo is the repository of the decky image; the tag is a hash of the
// binary, so a new build of decnet gets a new image and an old one is reused.
const ImageRepo = "decnet-decky"

// ImageTag returns the image name for the binary at path.
func ImageTag(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("decky image: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("decky image: read %s: %w", path, err)
	}
	return ImageRepo + ":" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

// checkStatic refuses a binary that needs a dynamic loader: the image is
// FROM scratch, so such a binary could not start in it.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("decky image: %s is not an ELF executable (%v); the docker driver runs on Linux only", path, err)
	}
	defer f.Close()
	dynamic := false
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			dynamic = true
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		dynamic = true
	}
	if dynamic {
		return fmt.Errorf("decky image: %s is dynamically linked and cannot run in a FROM scratch image; "+
			"build decnet with CGO_ENABLED=0 (make build does)", path)
	}
	return nil
}

// The image's files besides the binary: an account for the unprivileged
// user the services run as, and /tmp.
const (
	etcPasswd = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
	etcGroup  = "root:x:0:\nnogroup:x:65534:\n"
)

// EnsureImage makes sure the decky image of d.Binary exists, building it
// when it does not, and returns its name. The image is FROM scratch: the
// static binary at /decnet, /etc/passwd and /etc/group with nobody, /tmp
// and /state. It is imported from a tar stream made in memory: no
// Dockerfile on disk and no registry.
func (d *Driver) EnsureImage(ctx context.Context, progress func(string)) (string, error) {
	if progress == nil {
		progress = func(string) {}
	}
	bin, err := d.binary()
	if err != nil {
		return "", err
	}
	tag, err := ImageTag(bin)
	if err != nil {
		return "", err
	}
	if _, err := d.cli.ImageInspect(ctx, tag); err == nil {
		progress("image " + tag + " is up to date")
		return tag, nil
	} else if !cerrdefs.IsNotFound(err) {
		return "", fmt.Errorf("inspect image %s: %w", tag, err)
	}
	if err := checkStatic(bin); err != nil {
		return "", err
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return "", fmt.Errorf("decky image: %w", err)
	}
	progress(fmt.Sprintf("building image %s from %s (%.1f MB)…", tag, bin, float64(fi.Size())/1e6))
	start := time.Now()

	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := writeRootfs(pw, bin)
		pw.CloseWithError(err)
		done <- err
	}()
	repo, ver, _ := strings.Cut(tag, ":")
	res, err := d.cli.ImageImport(ctx, client.ImageImportSource{Source: pr, SourceName: "-"}, repo, client.ImageImportOptions{
		Tag:     ver,
		Message: "decnet decky image",
		Changes: []string{
			`ENTRYPOINT ["/decnet"]`,
			fmt.Sprintf("USER %d:%d", nobody, nobody),
			"WORKDIR /",
			"LABEL " + LabelManaged + "=true",
		},
	})
	if err != nil {
		pr.CloseWithError(err)
		<-done
		return "", fmt.Errorf("import image %s: %w", tag, err)
	}
	defer res.Close()
	msgErr := readMessages(res)
	pr.Close() // the daemon has answered: stop the writer if it is still going
	if werr := <-done; werr != nil && msgErr == nil && !errors.Is(werr, io.ErrClosedPipe) {
		return "", fmt.Errorf("import image %s: %w", tag, werr)
	}
	if msgErr != nil {
		return "", fmt.Errorf("import image %s: %w", tag, msgErr)
	}
	if _, err := d.cli.ImageInspect(ctx, tag); err != nil {
		return "", fmt.Errorf("image %s was imported but cannot be found: %w", tag, err)
	}
	progress(fmt.Sprintf("image %s built in %.1fs", tag, time.Since(start).Seconds()))
	if n := d.pruneImages(ctx, tag); n > 0 {
		progress(fmt.Sprintf("removed %d decky image(s) of older builds", n))
	}
	return tag, nil
}

// pruneImages removes decky images of other builds that no container uses
// any more (the daemon refuses to remove one in use, and that is left), so
// upgrades do not pile images up. It returns how many it removed.
func (d *Driver) pruneImages(ctx context.Context, keep string) int {
	res, err := d.cli.ImageList(ctx, client.ImageListOptions{Filters: client.Filters{}.Add("label", LabelManaged+"=true")})
	if err != nil {
		return 0
	}
	n := 0
	for _, img := range res.Items {
		for _, t := range img.RepoTags {
			if t == keep || !strings.HasPrefix(t, ImageRepo+":") {
				continue
			}
			if _, err := d.cli.ImageRemove(ctx, t, client.ImageRemoveOptions{}); err == nil {
				n++
			}
		}
	}
	return n
}

// readMessages reads the daemon's JSON progress stream and returns the
// error it reports, if any.
func readMessages(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
	}
}

// writeRootfs writes the image's root filesystem as a tar stream.
func writeRootfs(w io.Writer, bin string) error {
	f, err := os.Open(bin)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	now := time.Unix(0, 0)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: now})
	}
	file := func(name string, mode int64, body string) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: now}); err != nil {
			return err
		}
		_, err := io.WriteString(tw, body)
		return err
	}
	for _, step := range []func() error{
		func() error { return dir("etc/", 0o755) },
		func() error { return file("etc/passwd", 0o644, etcPasswd) },
		func() error { return file("etc/group", 0o644, etcGroup) },
		func() error { return dir("tmp/", 0o1777) },
		func() error { return dir("state/", 0o755) },
		func() error {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "decnet", Mode: 0o755, Size: fi.Size(), ModTime: now}); err != nil {
				return err
			}
			_, err := io.Copy(tw, f)
			return err
		},
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return tw.Close()
}
