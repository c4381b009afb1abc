package org.lstmk.api;

import java.util.List;

/**
 * Which backend an engine runs and why: the answer to "what did the dispatcher choose?".
 *
 * @param backend  the chosen backend's name
 * @param detail   what it runs on (e.g. the vector width, the GPU)
 * @param forcedBy {@code null} if chosen by default, else where the choice came from
 *                 ({@code "-Dlstm.backend"}, {@code "LSTM_BACKEND"}, {@code "Lstm.Builder.backend"})
 * @param skipped  the backends that would have been preferred but were passed over, each with the reason
 * @param verified whether every call is also run through the reference and compared
 *                 ({@code -Dlstm.verify=true} or {@link Lstm.Builder#verify(boolean)})
 */
public record BackendSelection(String backend, String detail, String forcedBy, List<Skipped> skipped,
                               boolean verified) {
    public BackendSelection {
        skipped = List.copyOf(skipped);
    }

    /** A backend passed over, with the reason. */
    public record Skipped(String backend, String reason) {}

    /** One line for logs: {@code backend 'simd' (AVX-512...) chosen by default; skipped: cuda (no driver)}. */
    public String describe() {
        StringBuilder s = new StringBuilder("backend '").append(backend).append("' (").append(detail).append(")");
        s.append(forcedBy == null ? " chosen by default" : " forced by " + forcedBy);
        if (verified) s.append(", every call verified against the reference");
        if (!skipped.isEmpty()) {
            s.append("; skipped: ");
            for (int i = 0; i < skipped.size(); i++) {
                if (i > 0) s.append("; ");
                s.append(skipped.get(i).backend()).append(" (").append(skipped.get(i).reason()).append(")");
            }
        }
        return s.toString();
    }
}
