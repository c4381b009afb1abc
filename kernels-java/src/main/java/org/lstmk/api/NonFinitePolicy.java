package org.lstmk.api;

/** What a call does with NaN or infinite values in its inputs. */
public enum NonFinitePolicy {
    /**
     * Compute as IEEE arithmetic does, as PyTorch, cuDNN and oneDNN do: a NaN input yields NaN outputs where it
     * reaches. No scan, no cost. The default.
     */
    PROPAGATE,
    /**
     * Scan every floating-point input before anything is written and throw {@link IllegalArgumentException}
     * naming the argument and the first offending index. Costs one pass over the inputs per call.
     */
    REJECT
}
