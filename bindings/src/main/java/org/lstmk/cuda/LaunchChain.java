package org.lstmk.cuda;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Kernel launches recorded in order ({@link Kernels#record}) to be run as one by {@link Device#run}: on a GPU as a
 * CUDA graph, instantiated once per distinct chain and replayed, so that a sequence's T step kernels cost one launch
 * instead of T (each {@code cuLaunchKernel} costs a few µs of CPU and driver time, more than a small step's work).
 *
 * <p>Two chains are equal when they launch the same kernels with the same grids and blocks and the same arguments:
 * the same buffers (by identity: a buffer freed and another allocated at the same address are different) at the same
 * offsets, and the same numbers. So a graph made from one chain does exactly what an equal chain's launches would,
 * and a repeated call (same shapes, same workspace and scratch buffers, new data in them) replays it.
 */
final class LaunchChain implements Iterable<LaunchChain.Launch> {
    /**
     * System property: {@code false} makes a GPU run a chain as separate launches instead of a CUDA graph (read when
     * a device opens; default true). The host build always runs chains the same way.
     */
    static final String GRAPHS_PROPERTY = "lstmk.cuda.graphs";

    /** One recorded launch, as {@link Device#launch} takes it. */
    record Launch(DeviceKernel kernel, Dim3 grid, Dim3 block, int sharedBytes, KernelArgs args) {
        Launch {
            Objects.requireNonNull(kernel, "kernel");
            Objects.requireNonNull(grid, "grid");
            Objects.requireNonNull(block, "block");
            Objects.requireNonNull(args, "args");
        }
    }

    private final List<Launch> launches;
    private final int hash;

    LaunchChain(List<Launch> launches) {
        this.launches = Collections.unmodifiableList(new ArrayList<>(launches));
        this.hash = this.launches.hashCode();
    }

    int size() {
        return launches.size();
    }

    @Override
    public Iterator<Launch> iterator() {
        return launches.iterator();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LaunchChain c && c.hash == hash && c.launches.equals(launches);
    }

    @Override
    public int hashCode() {
        return hash;
    }

    /**
     * What a device made of the chains it ran recently ({@code E}: a CUDA graph, or for the host build the first
     * chain itself, whose launches then run in place of an equal later one's), least recently used dropped first
     * and released. Not thread-safe: the device's monitor guards it.
     */
    static final class Cache<E> {
        private final int capacity;
        private final Consumer<E> release;
        private final LinkedHashMap<LaunchChain, E> entries = new LinkedHashMap<>(16, 0.75f, true);
        private long hits, misses;

        Cache(int capacity, Consumer<E> release) {
            if (capacity < 1) throw new IllegalArgumentException("capacity must be at least 1, was " + capacity);
            this.capacity = capacity;
            this.release = Objects.requireNonNull(release, "release");
        }

        /** The entry of a chain equal to {@code chain}, or {@code make}'s for it (then kept, the oldest dropped). */
        E get(LaunchChain chain, Function<LaunchChain, E> make) {
            E e = entries.get(chain);
            if (e != null) {
                hits++;
                return e;
            }
            misses++;
            e = Objects.requireNonNull(make.apply(chain), "made entry");
            entries.put(chain, e);
            if (entries.size() > capacity) {
                Iterator<Map.Entry<LaunchChain, E>> oldest = entries.entrySet().iterator();
                E dropped = oldest.next().getValue();
                oldest.remove();
                release.accept(dropped);
            }
            return e;
        }

        /** Chains run from an entry made earlier. */
        long hits() {
            return hits;
        }

        /** Chains that needed an entry made. */
        long misses() {
            return misses;
        }

        /** Releases every entry (the device closes). */
        void clear() {
            RuntimeException first = null;
            for (E e : entries.values()) {
                try {
                    release.accept(e);
                } catch (RuntimeException ex) {
                    if (first == null) first = ex;
                    else first.addSuppressed(ex);
                }
            }
            entries.clear();
            if (first != null) throw first;
        }
    }
}
