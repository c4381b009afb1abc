package org.lstmk.cuda;

/** Device memory owned by the caller: {@link #close()} frees it (idempotent). */
public interface DeviceBuffer extends AutoCloseable {
    /** Size in bytes. */
    long bytes();

    /** Whether {@link #close()} has been called. */
    boolean isClosed();

    /** A pointer to float element {@code index} of this buffer, for kernel arguments. */
    default DevicePointer floatAt(long index) {
        return new DevicePointer(this, index * Float.BYTES);
    }

    @Override
    void close();

    /** Closes every non-null buffer, even if closing one throws; rethrows the first failure. */
    static void closeAll(DeviceBuffer... buffers) {
        RuntimeException first = null;
        for (DeviceBuffer b : buffers) {
            if (b == null) continue;
            try {
                b.close();
            } catch (RuntimeException e) {
                if (first == null) first = e;
                else first.addSuppressed(e);
            }
        }
        if (first != null) throw first;
    }
}
