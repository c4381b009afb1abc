package org.lstmk.verify;

import java.util.List;

/** A backend's results differ from the reference's beyond the tolerance. */
public final class VerificationException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient List<Comparison.Result> results;

    public VerificationException(String message, List<Comparison.Result> results) {
        super(message);
        this.results = List.copyOf(results);
    }

    /** Every output compared in the failing call, passed or not. */
    public List<Comparison.Result> results() { return results; }
}
