package main

import (
	"context"
	"fmt"
	"time"
)

// scenarioSmall pushes -images images of -layers random layers each from
// -push-clients concurrent clients. Images are generated (and hashed)
// before the clock starts; each blob is HEAD-checked, then POST + PUT
// ?digest= with its body, and the manifest is PUT last.
func scenarioSmall(ctx context.Context, b *bench) error {
	o := b.o
	imgs := make([]image, o.images)
	err := parallel(ctx, o.images, 2, func(_ context.Context, i int) error {
		imgs[i] = makeImage(o.seed, kindSmall, uint64(i), o.layers, int(o.layerSize))
		return nil
	})
	if err != nil {
		return err
	}
	repoOf := func(i int) string { return b.repo(fmt.Sprintf("small/r%d", i%o.pushClients)) }
	tagOf := func(i int) string { return fmt.Sprintf("i%05d", i) }

	start := time.Now()
	err = parallel(ctx, o.images, o.pushClients, func(ctx context.Context, i int) error {
		if err := b.c.pushImage(ctx, repoOf(i), tagOf(i), imgs[i]); err != nil {
			return fmt.Errorf("image %d: %w", i, err)
		}
		return nil
	})
	el := time.Since(start)
	if err != nil {
		return err
	}
	for _, i := range []int{0, o.images - 1} {
		if err := b.c.getManifest(ctx, repoOf(i), tagOf(i), imgs[i].manifest); err != nil {
			return fmt.Errorf("verify image %d: %w", i, err)
		}
	}
	name := fmt.Sprintf("%d images × %d × %s, %d clients", o.images, o.layers, formatBytes(int64(o.layerSize)), o.pushClients)
	b.add("small", "images_per_s", name, float64(o.images)/el.Seconds(), "images/s", "higher")
	return nil
}
