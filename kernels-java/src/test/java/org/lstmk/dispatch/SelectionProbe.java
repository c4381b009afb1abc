package org.lstmk.dispatch;

import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;

/**
 * Run in a child JVM by {@link DispatcherTest} to test what a test cannot set in its own process: the
 * {@code LSTM_BACKEND} environment variable. Prints the selection, or the error, on one line.
 */
public final class SelectionProbe {
    private SelectionProbe() {}

    public static void main(String[] args) {
        try (Lstm lstm = Lstm.create(LstmConfig.of(2, 3))) {
            System.out.println("selected " + lstm.selection().backend() + " forcedBy=" + lstm.selection().forcedBy());
        } catch (IllegalStateException e) {
            System.out.println("error " + e.getMessage());
        }
    }
}
