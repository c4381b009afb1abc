package org.lstmk.api;

/** Whether a backward call adds its weight gradients to the caller's buffers or replaces their contents. */
public enum GradientMode {
    /** {@code dW = gradient}: previous contents of the weight-gradient buffers are ignored. */
    OVERWRITE,
    /**
     * {@code dW += gradient}: what frameworks do when several calls (time chunks, micro-batches, shared weights)
     * contribute to one parameter's {@code .grad}.
     */
    ACCUMULATE
}
