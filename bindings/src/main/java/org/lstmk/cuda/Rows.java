package org.lstmk.cuda;

/**
 * A set of matrix rows in device memory: the first row and the distance between consecutive rows, in floats. This
 * is how one timestep of a sequence is addressed in either layout: time-major rows of step t are consecutive
 * ({@code stride} = width), batch-major rows are {@code T} rows apart ({@code stride} = T·width).
 *
 * @param first     the first row, or null for an absent matrix (a null pointer to the kernel)
 * @param strideFloats floats from one row to the next
 */
record Rows(DevicePointer first, long strideFloats) {
    /** An absent matrix. */
    static final Rows NONE = new Rows(null, 0);

    /** Rows {@code width} floats apart, starting at element 0 of {@code buffer}; NONE for a null buffer. */
    static Rows dense(DeviceBuffer buffer, long width) {
        return buffer == null ? NONE : new Rows(buffer.floatAt(0), width);
    }
}
