package org.lstmk.cuda;

import java.util.Objects;

/**
 * An address inside a device buffer, passed to kernels as a {@code float*}.
 *
 * @param buffer     the buffer
 * @param byteOffset offset into it, {@code 0 <= byteOffset <= buffer.bytes()}
 */
public record DevicePointer(DeviceBuffer buffer, long byteOffset) {
    public DevicePointer {
        Objects.requireNonNull(buffer, "buffer");
        if (byteOffset < 0 || byteOffset > buffer.bytes()) {
            throw new IllegalArgumentException("pointer offset " + byteOffset + " outside a device buffer of "
                    + buffer.bytes() + " bytes");
        }
    }

    /** This pointer moved by {@code floats} float elements. */
    public DevicePointer plusFloats(long floats) {
        return new DevicePointer(buffer, byteOffset + floats * Float.BYTES);
    }
}
