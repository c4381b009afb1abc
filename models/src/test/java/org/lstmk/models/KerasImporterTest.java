package org.lstmk.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Corrupt, truncated and mismatched Keras files: a ModelFormatException naming the file, the dataset, the expectation. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class KerasImporterTest {
    @TempDir Path tmp;

    private static Path fixture(String name) { return KerasFixturesTest.file(name); }

    private static ModelFormatException refused(Path f, String... words) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Models.load(f, null));
        String m = e.getMessage();
        assertTrue(m.contains(f.toString()), "file not named: " + m);
        for (String w : words) assertTrue(m.contains(w), "'" + w + "' not in: " + m);
        return e;
    }

    private static Map<String, byte[]> entries(Path keras) throws IOException {
        Map<String, byte[]> out = new LinkedHashMap<>();
        try (ZipFile z = new ZipFile(keras.toFile())) {
            for (ZipEntry e : z.stream().toList()) {
                try (InputStream in = z.getInputStream(e)) {
                    out.put(e.getName(), in.readAllBytes());
                }
            }
        }
        return out;
    }

    private Path zip(String name, Map<String, byte[]> entries) throws IOException {
        Path f = tmp.resolve(name);
        try (OutputStream os = Files.newOutputStream(f); ZipOutputStream z = new ZipOutputStream(os)) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                z.putNextEntry(new ZipEntry(e.getKey()));
                z.write(e.getValue());
                z.closeEntry();
            }
        }
        return f;
    }

    /** {@code fixture}'s .keras with its config.json changed by {@code edit}. */
    private Path editedConfig(String fixture, Consumer<JsonObject> edit) throws IOException {
        Map<String, byte[]> e = entries(fixture(fixture + ".keras"));
        JsonObject c = JsonParser.parseString(new String(e.get("config.json"), StandardCharsets.UTF_8))
                .getAsJsonObject();
        edit.accept(c);
        e.put("config.json", c.toString().getBytes(StandardCharsets.UTF_8));
        return zip(fixture + "-edited.keras", e);
    }

    private static JsonObject layer(JsonObject config, String className, int nth) {
        int seen = 0;
        for (var l : config.getAsJsonObject("config").getAsJsonArray("layers")) {
            JsonObject o = l.getAsJsonObject();
            if (o.get("class_name").getAsString().equals(className) && seen++ == nth) return o;
        }
        throw new AssertionError("no " + className + " #" + nth);
    }

    private Path truncated(String fixture, String as, double fraction) throws IOException {
        byte[] b = Files.readAllBytes(fixture(fixture));
        Path f = tmp.resolve(as);
        Files.write(f, Arrays.copyOf(b, (int) (b.length * fraction)));
        return f;
    }

    private Path random(String as) throws IOException {
        byte[] b = new byte[4096];
        new Random(7).nextBytes(b);
        Path f = tmp.resolve(as);
        Files.write(f, b);
        return f;
    }

    @Test
    void truncatedOrRandomKerasArchive() throws IOException {
        refused(truncated("lstm1.keras", "t.keras", 0.5), "zip");
        refused(truncated("lstm1.keras", "t0.keras", 0), "zip");
        refused(random("r.keras"), "zip");
    }

    @Test
    void archiveWithoutWeightsOrConfig() throws IOException {
        Map<String, byte[]> e = entries(fixture("lstm1.keras"));
        e.remove("model.weights.h5");
        refused(zip("noweights.keras", e), "model.weights.h5", "missing");
        e = entries(fixture("lstm1.keras"));
        e.remove("config.json");
        refused(zip("noconfig.keras", e), "config.json", "missing");
    }

    @Test
    void corruptConfigOrWeightsInTheArchive() throws IOException {
        Map<String, byte[]> e = entries(fixture("lstm1.keras"));
        e.put("config.json", "{\"class_name\": \"Sequential\", ".getBytes(StandardCharsets.UTF_8));
        refused(zip("badjson.keras", e), "config.json", "JSON");
        e = entries(fixture("lstm1.keras"));
        byte[] w = e.get("model.weights.h5");
        e.put("model.weights.h5", Arrays.copyOf(w, w.length / 3));
        refused(zip("truncweights.keras", e), "model.weights.h5", "truncated");
        e.put("model.weights.h5", "not hdf5 at all".getBytes(StandardCharsets.UTF_8));
        refused(zip("garbageweights.keras", e), "model.weights.h5", "HDF5");
    }

    /** Config and weights of different models: the dataset and its expected shape are named. */
    @Test
    void configAndWeightsMismatched() throws IOException {
        Map<String, byte[]> e = entries(fixture("lstm1.keras"));        // units 5, input 3
        e.put("model.weights.h5", entries(fixture("nobias.keras")).get("model.weights.h5"));   // units 4
        refused(zip("mixed.keras", e), "model.weights.h5:/layers/lstm/cell/vars/2", "missing", "bias [4·units]");
        e.put("model.weights.h5", entries(fixture("bi2.keras")).get("model.weights.h5"));   // bidirectional, units 4
        refused(zip("mixed2.keras", e), "model.weights.h5:/layers/lstm", "missing", "bidirectional");

        Path units = editedConfig("lstm1", c -> layer(c, "LSTM", 0).getAsJsonObject("config").addProperty("units", 6));
        refused(units, "model.weights.h5:/layers/lstm/cell/vars/0", "expected", "4·units = 24", "[3, 20]");

        Path bias = editedConfig("nobias", c -> layer(c, "LSTM", 0).getAsJsonObject("config")
                .addProperty("use_bias", true));
        refused(bias, "cell/vars/2", "missing", "bias");
    }

    @Test
    void configSettingsRefusedByName() throws IOException {
        refused(editedConfig("stacked2", c -> layer(c, "LSTM", 0).getAsJsonObject("config")
                .addProperty("return_sequences", false)), "return_sequences=False", "LSTM '");
        refused(editedConfig("lstm1", c -> layer(c, "LSTM", 0).getAsJsonObject("config")
                .add("activation", JsonNull.INSTANCE)), "activation 'linear'");
        refused(editedConfig("bi2", c -> layer(c, "Bidirectional", 1).getAsJsonObject("config")
                .add("merge_mode", JsonNull.INSTANCE)), "merge_mode 'None'", "Bidirectional '");
        refused(editedConfig("lstm1", c -> layer(c, "LSTM", 0).getAsJsonObject("config")
                .addProperty("time_major", true)), "time_major");
    }

    /** In a functional model the second LSTM must take the first one's output. */
    @Test
    void notAChain() throws IOException {
        Path f = editedConfig("stacked2", c -> {
            String input = layer(c, "InputLayer", 0).get("name").getAsString();
            JsonArray history = layer(c, "LSTM", 1).getAsJsonArray("inbound_nodes").get(0).getAsJsonObject()
                    .getAsJsonArray("args").get(0).getAsJsonObject().getAsJsonObject("config")
                    .getAsJsonArray("keras_history");
            history.set(0, new com.google.gson.JsonPrimitive(input));
        });
        refused(f, "takes the output of", "not a plain stack");
    }

    @Test
    void truncatedOrRandomHdf5() throws IOException {
        refused(truncated("bi2.weights.h5", "t.weights.h5", 0.4), "truncated",
                "says " + Files.size(fixture("bi2.weights.h5")) + " bytes");
        refused(truncated("bi2.h5", "t.h5", 0.4), "truncated");
        refused(truncated("bi2.h5", "t0.h5", 0), "not an HDF5 file");
        refused(random("r.weights.h5"), "HDF5");
        refused(random("r.h5"), "HDF5");
    }

    @Test
    void wrongKindOfHdf5() throws IOException {
        Path weightsAsLegacy = tmp.resolve("w.h5");
        Files.copy(fixture("lstm1.weights.h5"), weightsAsLegacy);
        refused(weightsAsLegacy, ".weights.h5");
        Path legacyAsWeights = tmp.resolve("l.weights.h5");
        Files.copy(fixture("lstm1.h5"), legacyAsWeights);
        refused(legacyAsWeights, "/layers", "missing");
    }

    @Test
    void unknownExtension() {
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> KerasImporter.load(tmp.resolve("model.onnx")));
        assertTrue(e.getMessage().contains(".keras"), e.getMessage());
    }

    /** The three files of one model give the same weights. */
    @Test
    void threeFilesOneModel() throws IOException {
        for (String name : KerasFixturesTest.NAMES) {
            LstmModel k = Models.load(fixture(name + ".keras"), null);
            for (String ext : new String[] {".weights.h5", ".h5"}) {
                LstmModel o = Models.load(fixture(name + ext), null);
                assertEquals(k.config(), o.config(), name + ext);
                for (int l = 0; l < k.config().layers(); l++) {
                    for (int d = 0; d < k.config().directions(); d++) {
                        var a = k.weights().get(l, d);
                        var b = o.weights().get(l, d);
                        assertEquals(-1L, a.wIh().mismatch(b.wIh()), name + ext + " wIh");
                        assertEquals(-1L, a.wHh().mismatch(b.wHh()), name + ext + " wHh");
                        assertEquals(a.hasBias(), b.hasBias(), name + ext + " bias");
                        if (a.hasBias()) assertEquals(-1L, a.bIh().mismatch(b.bIh()), name + ext + " bIh");
                    }
                }
            }
        }
    }

}
