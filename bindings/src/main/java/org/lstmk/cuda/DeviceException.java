package org.lstmk.cuda;

/** A CUDA call failed; the message names the call (e.g. {@code cuMemAlloc(4096 bytes)}) and the error. */
public final class DeviceException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public DeviceException(String message) {
        super(message);
    }
}
