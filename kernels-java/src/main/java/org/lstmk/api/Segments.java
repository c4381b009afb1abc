package org.lstmk.api;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/** Helpers for {@code float[]} conveniences. */
final class Segments {
    private Segments() {}

    static MemorySegment of(float[] a, String name) {
        return MemorySegment.ofArray(Objects.requireNonNull(a, name));
    }

    static MemorySegment orNull(float[] a) {
        return a == null ? null : MemorySegment.ofArray(a);
    }
}
