package org.lstmk.models;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.lstmk.api.Layout;
import org.lstmk.api.Lstm;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmState;
import org.lstmk.api.PackedWeights;
import org.lstmk.api.SequenceBatch;

/** The PyTorch fixtures (src/test/fixtures/make_fixtures.py) and running an imported model on them. */
final class Fixtures {
    private Fixtures() {}

    static final String[] NAMES = {"lstm1", "bi2", "proj", "prefixed", "two_lstms", "nobias", "f16", "bf16"};

    static Path dir() { return dir("pytorch"); }

    static Path file(String name) { return dir().resolve(name); }

    static JsonObject info(String name) throws IOException { return info("pytorch", name); }

    /** The fixture folder of one tool: {@code pytorch}, {@code keras}, {@code onnx}. */
    static Path dir(String tool) {
        try {
            return Path.of(Fixtures.class.getResource("/fixtures/" + tool).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** What the tool's fixture script recorded about fixture {@code name} ({@code name.json}). */
    static JsonObject info(String tool, String name) throws IOException {
        return JsonParser.parseString(Files.readString(dir(tool).resolve(name + ".json"))).getAsJsonObject();
    }

    /** Swaps rows {@code [r0, r0 + rows)} and {@code [r1, r1 + rows)} of a row-major matrix of {@code cols} columns. */
    static void swapRows(float[] a, int r0, int r1, int rows, int cols) {
        for (int i = 0; i < rows * cols; i++) {
            float t = a[r0 * cols + i];
            a[r0 * cols + i] = a[r1 * cols + i];
            a[r1 * cols + i] = t;
        }
    }

    /** The fixture's model, in its batch_first layout, picked by the prefix the script recorded. */
    static LstmModel model(String name) throws IOException {
        JsonObject info = info(name);
        String prefix = info.get("prefix").getAsString();
        LstmModel m = PyTorchImporter.load(file(name + ".safetensors"), prefix.isEmpty() ? null : prefix);
        return info.get("batch_first").getAsBoolean() ? m.withLayout(Layout.BATCH_MAJOR) : m;
    }

    /** y, h_n, c_n of one forward. */
    record Out(float[] y, float[] h, float[] c) {}

    static Out forward(LstmModel m, String backend, float[] x, int t, int b, int[] lengths) {
        LstmConfig c = m.config();
        float[] y = new float[t * b * c.sequenceOutputSize()];
        float[] h = new float[c.stateLayers() * b * c.outputSize()];
        float[] cs = new float[c.stateLayers() * b * c.hiddenSize()];
        try (Lstm lstm = Lstm.builder(c).backend(backend).build(); PackedWeights w = lstm.pack(m.weights())) {
            SequenceBatch seq = lengths == null ? SequenceBatch.of(t, b) : SequenceBatch.of(t, lengths);
            lstm.forward(w, seq, MemorySegment.ofArray(x), null, MemorySegment.ofArray(y), LstmState.of(h, cs));
        }
        return new Out(y, h, cs);
    }

    /** Largest |a − e| / (1e-6 + |e|)-style error: max over elements of |a − e| / max(|e|, 0.1). */
    static double relError(float[] a, float[] e) {
        if (a.length != e.length) throw new AssertionError("lengths " + a.length + " vs " + e.length);
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i] - e[i]) / Math.max(Math.abs(e[i]), 0.1));
        }
        return worst;
    }

    static String fmt(double d) { return String.format(Locale.ROOT, "%.3g", d); }
}
