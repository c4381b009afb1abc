package org.lstmk.api;

/**
 * Order of the time and batch dimensions in sequence buffers ({@code x}, {@code y}, {@code dy}, {@code dx}).
 * The feature dimension is always innermost and contiguous.
 */
public enum Layout {
    /** {@code [T, B, features]}: PyTorch's default ({@code batch_first=False}), cuDNN's and oneDNN's {@code tnc}. */
    TIME_MAJOR,
    /** {@code [B, T, features]}: PyTorch's {@code batch_first=True}, oneDNN's {@code ntc}. */
    BATCH_MAJOR;

    /** Row index of (timestep {@code t}, batch element {@code b}) in a sequence buffer of {@code steps × batch} rows. */
    public int row(int t, int b, int steps, int batch) {
        return this == TIME_MAJOR ? t * batch + b : b * steps + t;
    }
}
