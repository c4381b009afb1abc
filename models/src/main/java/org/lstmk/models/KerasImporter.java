package org.lstmk.models;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import io.jhdf.HdfFile;
import io.jhdf.api.Attribute;
import io.jhdf.api.Dataset;
import io.jhdf.api.Group;
import io.jhdf.api.Node;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.lstmk.api.Layout;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.StackWeights;

/**
 * Imports the LSTM stack of a Keras model: a Keras 3 {@code .keras} archive (a zip of {@code config.json} and
 * {@code model.weights.h5}), a Keras 3 {@code .weights.h5} file ({@code model.save_weights}), or a legacy HDF5
 * {@code .h5} model ({@code model.save("m.h5")}, which holds the configuration in its {@code model_config} attribute).
 * HDF5 is read with jHDF, a pure-Java reader.
 *
 * <p><b>What is imported</b>: the {@code LSTM} and {@code Bidirectional(LSTM)} layers at the start of the model (after
 * its {@code InputLayer}), in model order, as one stack. Layers after the stack (a {@code Dense} head, say) are not
 * imported and are named in {@link ModelInfo#format()}; an LSTM after such a layer, or a model that does not start
 * with an LSTM, is refused by name. Each layer's configuration is checked and refused by name where this library
 * would compute something else: {@code activation} other than {@code tanh}, {@code recurrent_activation} other than
 * {@code sigmoid}, {@code go_backwards}, {@code stateful}, {@code time_major}, a {@code Bidirectional}
 * {@code merge_mode} other than {@code concat}, {@code return_sequences=False} below the last layer, different
 * {@code units} or {@code use_bias} across layers, a mix of bidirectional and unidirectional layers. Dropout and
 * {@code unit_forget_bias} do not matter at inference.
 *
 * <p><b>Conversion</b>: Keras stores {@code kernel [I, 4H]}, {@code recurrent_kernel [H, 4H]} and one
 * {@code bias [4H]}, gates {@code i, f, c, o} (PyTorch's {@code i, f, g, o}); so {@code W_ih = kernelᵀ},
 * {@code W_hh = recurrent_kernelᵀ}, {@code b_ih = bias}, {@code b_hh = 0} ({@code use_bias=False}: no bias). Keras
 * sequences are batch-first: the model comes back {@link Layout#BATCH_MAJOR}. A {@code .weights.h5} file has no
 * configuration: the layers are found by their saved names ({@code lstm}, {@code lstm_1}, ... or
 * {@code bidirectional}, ...), in that order, and the activations cannot be checked (Keras' defaults are assumed, which
 * the format names say).
 */
public final class KerasImporter {
    private KerasImporter() {}

    /** The format names in {@link ModelInfo#format()}, before what was skipped. */
    public static final String FORMAT_KERAS = "Keras LSTM (.keras)";
    public static final String FORMAT_WEIGHTS = "Keras LSTM (.weights.h5, no config: activations assumed tanh/sigmoid)";
    public static final String FORMAT_LEGACY = "Keras LSTM (legacy .h5)";

    private static final String WEIGHTS_ENTRY = "model.weights.h5";
    private static final long MAX_ENTRY = 1L << 31;

    /** Loads by extension: {@code .keras}, {@code .weights.h5}, or (any other) {@code .h5} as a legacy model. */
    public static LstmModel load(Path file) throws IOException {
        String f = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (f.endsWith(".keras")) return loadKeras(file);
        if (f.endsWith(".weights.h5")) return loadWeights(file);
        if (f.endsWith(".h5") || f.endsWith(".hdf5")) return loadLegacy(file);
        throw new ModelFormatException(file, "not a Keras file (expected .keras, .weights.h5 or .h5)");
    }

    /** One layer of the stack as the configuration has it. */
    private record Spec(String name, String className, boolean bidirectional, int units, boolean bias,
                        boolean returnSequences, String saved) {
        String label() { return className + " '" + name + "'"; }
    }

    /** The stack's layers and the names of the layers after it. */
    private record Stack(List<Spec> layers, List<String> skipped) {}

    // ---------------------------------------------------------------- .keras

    /** Loads a Keras 3 {@code .keras} archive. */
    public static LstmModel loadKeras(Path file) throws IOException {
        byte[] config, weights;
        try (ZipFile zip = new ZipFile(file.toFile())) {
            config = entry(file, zip, "config.json");
            weights = entry(file, zip, WEIGHTS_ENTRY);
        } catch (ModelFormatException e) {
            throw e;
        } catch (IOException e) {
            throw new ModelFormatException(file, null, "not a readable .keras archive (zip): " + e.getMessage(), e);
        }
        JsonObject root = json(file, "config.json", new String(config, StandardCharsets.UTF_8));
        Stack stack = parseConfig(file, root);
        checkLength(file, WEIGHTS_ENTRY, ByteBuffer.wrap(weights), weights.length);
        try (HdfFile h5 = HdfFile.fromBytes(weights)) {
            return fromNewLayout(file, WEIGHTS_ENTRY + ":", h5, stack, FORMAT_KERAS, false);
        } catch (ModelFormatException e) {
            throw e;
        } catch (RuntimeException e) {
            throw hdf(file, WEIGHTS_ENTRY, e);
        }
    }

    private static byte[] entry(Path file, ZipFile zip, String name) throws IOException {
        ZipEntry e = zip.getEntry(name);
        if (e == null) {
            throw new ModelFormatException(file, name, "missing from the .keras archive (expected config.json and "
                    + WEIGHTS_ENTRY + ")");
        }
        if (e.getSize() > MAX_ENTRY) throw new ModelFormatException(file, name, "too large (" + e.getSize() + " bytes)");
        try (InputStream in = zip.getInputStream(e)) {
            return in.readAllBytes();
        } catch (IOException x) {
            throw new ModelFormatException(file, name, "unreadable in the .keras archive: " + x.getMessage(), x);
        }
    }

    // ---------------------------------------------------------------- .weights.h5

    private static final Pattern SAVED_NAME = Pattern.compile("(lstm|bidirectional)(?:_(\\d+))?");

    /** Loads a Keras 3 {@code .weights.h5} file: no configuration, so the layers are found by their saved names. */
    public static LstmModel loadWeights(Path file) throws IOException {
        checkLength(file);
        try (HdfFile h5 = new HdfFile(file)) {
            Group layers = group(file, h5, "layers", "the layers of a Keras 3 .weights.h5 file");
            List<Group> lstms = new ArrayList<>();
            List<String> skipped = new ArrayList<>();
            for (Node n : layers.getChildren().values()) {
                if (!n.isGroup()) continue;
                Matcher m = SAVED_NAME.matcher(n.getName());
                if (m.matches()) lstms.add((Group) n);
                else if (hasVariables((Group) n)) {
                    Node vars = ((Group) n).getChild("vars");
                    String name = vars == null ? null : stringAttr(vars, "name");
                    skipped.add(name != null ? name : n.getName());
                }
            }
            if (lstms.isEmpty()) {
                throw new ModelFormatException(file, "/layers", "no LSTM layer (no group layers/lstm or "
                        + "layers/bidirectional); the file's layers: " + layers.getChildren().keySet());
            }
            lstms.sort(Comparator.comparing((Group g) -> SAVED_NAME.matcher(g.getName()).replaceAll("$1"))
                    .thenComparingInt(g -> {
                        Matcher m = SAVED_NAME.matcher(g.getName());
                        return m.matches() && m.group(2) != null ? Integer.parseInt(m.group(2)) : 0;
                    }));
            List<Spec> specs = new ArrayList<>();
            for (Group g : lstms) {
                boolean bi = g.getName().startsWith("bidirectional");
                String cell = bi ? "forward_layer/cell/vars" : "cell/vars";
                Dataset rec = dataset(file, "", g, cell + "/1", "recurrent_kernel [H, 4H]");
                int[] d = rec.getDimensions();
                if (d.length != 2 || d[1] != 4 * d[0] || d[0] == 0) {
                    throw new ModelFormatException(file, rec.getPath(), "expected a recurrent_kernel [H, 4·H] of an "
                            + "LSTM, got " + Arrays.toString(d) + (d.length == 2 && d[1] == 3 * d[0] ? " (a GRU?)" : ""));
                }
                boolean bias = child(g, cell + "/2") != null;
                specs.add(new Spec(g.getName(), bi ? "Bidirectional" : "LSTM", bi, d[0], bias, true, g.getName()));
            }
            Stack stack = new Stack(List.copyOf(specs), skipped);
            check(file, stack);
            return fromNewLayout(file, "", h5, stack, FORMAT_WEIGHTS, true);
        } catch (ModelFormatException e) {
            throw e;
        } catch (RuntimeException e) {
            throw hdf(file, null, e);
        }
    }

    private static boolean hasVariables(Group g) {
        for (Node n : g.getChildren().values()) {
            if (!n.isGroup()) return true;
            if (hasVariables((Group) n)) return true;
        }
        return false;
    }

    /**
     * The Keras 3 weights layout: {@code layers/<saved name>/[forward_layer|backward_layer/]cell/vars/0,1,2}; a layer's
     * group is found by the name its {@code vars} group carries (the layer's name in the config), or by the group's
     * own name when {@code byGroupName} (no config) or when the file does not record layer names.
     */
    private static LstmModel fromNewLayout(Path file, String where, HdfFile h5, Stack stack, String format,
                                           boolean byGroupName) throws IOException {
        Group layers = group(file, h5, "layers", "the layers of the Keras 3 weights (" + (where.isEmpty() ? "file"
                : where) + ")");
        Map<String, Group> byName = new HashMap<>();
        for (Node n : layers.getChildren().values()) {
            if (!n.isGroup()) continue;
            Node vars = ((Group) n).getChild("vars");
            String name = vars == null ? null : stringAttr(vars, "name");
            if (name != null && !byGroupName) byName.put(name, (Group) n);
        }
        Reader reader = new Reader(file, where);
        List<List<Object[]>> located = new ArrayList<>();
        for (Spec s : stack.layers()) {
            // Keras itself finds a layer's weights by the path it saves them under; the name is a fallback.
            Node n = layers.getChild(s.saved());
            Group g = n instanceof Group gg ? gg : byName.get(s.name());
            if (g == null) {
                throw new ModelFormatException(file, where + "/layers/" + s.saved(), "missing (the weights of "
                        + s.label() + "; no group whose vars are named '" + s.name() + "' either); the groups: "
                        + layers.getChildren().keySet());
            }
            List<Object[]> dirs = new ArrayList<>();
            for (String sub : s.bidirectional() ? List.of("forward_layer/", "backward_layer/") : List.of("")) {
                String cell = sub + "cell/vars/";
                Dataset k = dataset(file, where, g, cell + "0", "the kernel [input size, 4·units] of " + s.label());
                Dataset r = dataset(file, where, g, cell + "1", "the recurrent_kernel [units, 4·units] of "
                        + s.label());
                Dataset b = s.bias() ? dataset(file, where, g, cell + "2", "the bias [4·units] of " + s.label()
                        + ", which has use_bias=True") : null;
                if (!s.bias() && child(g, cell + "2") != null) {
                    throw new ModelFormatException(file, where + g.getPath() + cell + "2", "unexpected: "
                            + s.label() + " has use_bias=False");
                }
                dirs.add(new Object[] {k, r, b});
            }
            located.add(dirs);
        }
        return build(file, reader, stack, located, format);
    }

    /** Keras 3's saved name of a layer's class: snake_case ({@code InputLayer}: {@code input_layer}). */
    private static String snake(String className) {
        String n = className.replaceAll("(.)([A-Z][a-z]+)", "$1_$2").replaceAll("([a-z])([A-Z])", "$1_$2");
        return n.toLowerCase(Locale.ROOT);
    }

    // ---------------------------------------------------------------- legacy .h5

    /** Loads a legacy HDF5 model ({@code model.save("m.h5")}): {@code model_config} and {@code model_weights}. */
    public static LstmModel loadLegacy(Path file) throws IOException {
        checkLength(file);
        try (HdfFile h5 = new HdfFile(file)) {
            String config = stringAttr(h5, "model_config");
            if (config == null) {
                if (h5.getChild("layers") != null) {
                    throw new ModelFormatException(file, "/layers", "a Keras 3 weights file: name it .weights.h5");
                }
                throw new ModelFormatException(file, "/", "no model_config attribute: not a legacy Keras model "
                        + "(a weights-only legacy .h5 is not supported; save the model, or use .keras)");
            }
            Stack stack = parseConfig(file, json(file, "model_config", config));
            Group weights = group(file, h5, "model_weights", "the legacy model's weights");
            Reader reader = new Reader(file, "");
            List<List<Object[]>> located = new ArrayList<>();
            for (Spec s : stack.layers()) {
                Node n = weights.getChild(s.name());
                if (!(n instanceof Group g)) {
                    throw new ModelFormatException(file, "/model_weights/" + s.name(), "missing (the weights of "
                            + s.label() + ")");
                }
                Attribute a = g.getAttribute("weight_names");
                List<String> names = a == null ? List.of() : strings(a.getData());
                int per = s.bias() ? 3 : 2, dirs = s.bidirectional() ? 2 : 1;
                if (names.size() != per * dirs) {
                    throw new ModelFormatException(file, g.getPath(), "expected " + per * dirs + " weight_names ("
                            + (s.bidirectional() ? "forward and backward " : "") + "kernel, recurrent_kernel"
                            + (s.bias() ? ", bias" : "") + "), got " + names);
                }
                List<Object[]> list = new ArrayList<>();
                for (int d = 0; d < dirs; d++) {
                    Dataset[] ds = new Dataset[3];
                    for (int i = 0; i < per; i++) {
                        String w = names.get(d * per + i);
                        String leaf = w.replaceAll(":\\d+$", "");
                        leaf = leaf.substring(leaf.lastIndexOf('/') + 1);
                        int slot = switch (leaf) {
                            case "kernel" -> 0;
                            case "recurrent_kernel" -> 1;
                            case "bias" -> 2;
                            default -> throw new ModelFormatException(file, g.getPath() + "/" + w,
                                    "not a weight of an LSTM (expected kernel, recurrent_kernel, bias)");
                        };
                        if (dirs == 2 && !w.contains(d == 0 ? "forward" : "backward")) {
                            throw new ModelFormatException(file, g.getPath() + "/" + w, "expected the "
                                    + (d == 0 ? "forward" : "backward") + " layer's weight here");
                        }
                        ds[slot] = dataset(file, "", g, w, leaf);
                    }
                    if (ds[0] == null || ds[1] == null || (s.bias() && ds[2] == null)) {
                        throw new ModelFormatException(file, g.getPath(), "expected kernel, recurrent_kernel"
                                + (s.bias() ? ", bias" : "") + " in weight_names, got " + names);
                    }
                    list.add(new Object[] {ds[0], ds[1], ds[2]});
                }
                located.add(list);
            }
            return build(file, reader, stack, located, FORMAT_LEGACY);
        } catch (ModelFormatException e) {
            throw e;
        } catch (RuntimeException e) {
            throw hdf(file, null, e);
        }
    }

    // ---------------------------------------------------------------- the configuration

    private static Stack parseConfig(Path file, JsonObject root) throws ModelFormatException {
        String cls = str(root, "class_name", "");
        JsonObject cfg = root.has("config") && root.get("config").isJsonObject() ? root.getAsJsonObject("config") : null;
        if (cfg == null || !cfg.has("layers") || !cfg.get("layers").isJsonArray()) {
            throw new ModelFormatException(file, null, "the model config (" + (cls.isEmpty() ? "no class_name" : cls)
                    + ") has no config.layers: expected a Sequential or functional Model");
        }
        List<Spec> specs = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        String after = null, previous = null;
        Map<String, Integer> used = new HashMap<>();   // Keras 3 saves a model's layers as lstm, lstm_1, ...
        for (JsonElement e : cfg.getAsJsonArray("layers")) {
            if (!e.isJsonObject()) throw new ModelFormatException(file, null, "a layer of the config is not an object");
            JsonObject layer = e.getAsJsonObject();
            String lc = str(layer, "class_name", "?");
            String snake = snake(lc);
            int count = used.merge(snake, 1, Integer::sum) - 1;
            String saved = count == 0 ? snake : snake + "_" + count;
            JsonObject c = layer.has("config") && layer.get("config").isJsonObject() ? layer.getAsJsonObject("config")
                    : new JsonObject();
            String name = str(layer, "name", str(c, "name", "?"));
            String label = lc + " '" + name + "'";
            if (lc.equals("InputLayer") && specs.isEmpty() && after == null) {
                previous = name;
                continue;
            }
            boolean lstm = lc.equals("LSTM"), bi = lc.equals("Bidirectional");
            if (!lstm && !bi) {
                if (specs.isEmpty()) {
                    throw new ModelFormatException(file, null, "the model's first layer is " + label + ", not an LSTM "
                            + "or Bidirectional(LSTM): only an LSTM stack at the start of a model is imported");
                }
                if (after == null) after = label;
                skipped.add(name);
                continue;
            }
            if (after != null) {
                throw new ModelFormatException(file, null, label + " follows " + after + ", which is not an LSTM: "
                        + "only the consecutive LSTM layers at the start of a model are imported");
            }
            checkInbound(file, layer, label, previous);
            previous = name;
            Spec s;
            if (lstm) {
                s = lstmSpec(file, c, label, name, "LSTM", false, false);
            } else {
                String merge = c.has("merge_mode") && !c.get("merge_mode").isJsonNull()
                        ? c.get("merge_mode").getAsString() : "None";
                if (!merge.equals("concat")) {
                    throw new ModelFormatException(file, null, label + ": merge_mode '" + merge + "' is not "
                            + "supported (only 'concat', the default)");
                }
                JsonObject inner = c.has("layer") && c.get("layer").isJsonObject() ? c.getAsJsonObject("layer") : null;
                String ic = inner == null ? "nothing" : str(inner, "class_name", "?");
                if (!ic.equals("LSTM")) {
                    throw new ModelFormatException(file, null, label + " wraps " + ic + ", not an LSTM");
                }
                Spec fwd = lstmSpec(file, obj(inner, "config"), label + " (forward " + ic + ")", name, "Bidirectional",
                        true, false);
                if (c.has("backward_layer") && c.get("backward_layer").isJsonObject()) {
                    JsonObject back = c.getAsJsonObject("backward_layer");
                    String bc = str(back, "class_name", "?");
                    if (!bc.equals("LSTM")) {
                        throw new ModelFormatException(file, null, label + ": the backward layer is " + bc
                                + ", not an LSTM");
                    }
                    Spec bwd = lstmSpec(file, obj(back, "config"), label + " (backward " + bc + ")", name,
                            "Bidirectional", true, true);
                    if (bwd.units() != fwd.units() || bwd.bias() != fwd.bias()) {
                        throw new ModelFormatException(file, null, label + ": the backward layer has units "
                                + bwd.units() + ", use_bias " + bwd.bias() + "; the forward one " + fwd.units() + ", "
                                + fwd.bias());
                    }
                }
                s = fwd;
            }
            specs.add(new Spec(s.name(), s.className(), s.bidirectional(), s.units(), s.bias(), s.returnSequences(),
                    saved));
        }
        if (specs.isEmpty()) throw new ModelFormatException(file, null, "the model has no LSTM layer");
        Stack stack = new Stack(List.copyOf(specs), List.copyOf(skipped));
        check(file, stack);
        return stack;
    }

    private static Spec lstmSpec(Path file, JsonObject c, String label, String name, String cls, boolean bi,
                                 boolean backward) throws ModelFormatException {
        String act = activation(c, "activation", "tanh");
        if (!act.equals("tanh")) {
            throw new ModelFormatException(file, null, label + ": activation '" + act + "' is not supported (only "
                    + "tanh)");
        }
        String rec = activation(c, "recurrent_activation", "sigmoid");
        if (!rec.equals("sigmoid")) {
            throw new ModelFormatException(file, null, label + ": recurrent_activation '" + rec + "' is not supported "
                    + "(only sigmoid)");
        }
        if (!backward && bool(c, "go_backwards", false)) {
            throw new ModelFormatException(file, null, label + ": go_backwards=True is not supported (reverse the "
                    + "input instead, or use Bidirectional)");
        }
        if (bool(c, "stateful", false)) {
            throw new ModelFormatException(file, null, label + ": stateful=True is not supported (state is passed "
                    + "explicitly in this library)");
        }
        if (bool(c, "time_major", false)) {
            throw new ModelFormatException(file, null, label + ": time_major=True is not supported");
        }
        if (!c.has("units") || !c.get("units").isJsonPrimitive()) {
            throw new ModelFormatException(file, null, label + ": no units in the config");
        }
        int units = c.get("units").getAsInt();
        return new Spec(name, cls, bi, units, bool(c, "use_bias", true), bool(c, "return_sequences", false), null);
    }

    /** The stack runs as one LstmConfig: one size, one bias setting, one number of directions. */
    private static void check(Path file, Stack stack) throws ModelFormatException {
        List<Spec> l = stack.layers();
        Spec first = l.get(0);
        for (int i = 0; i < l.size(); i++) {
            Spec s = l.get(i);
            if (i < l.size() - 1 && !s.returnSequences()) {
                throw new ModelFormatException(file, null, s.label() + ": return_sequences=False below the last LSTM "
                        + "layer (the next layer, " + l.get(i + 1).label() + ", needs the whole sequence)");
            }
            if (s.units() != first.units()) {
                throw new ModelFormatException(file, null, s.label() + " has units " + s.units() + ", "
                        + first.label() + " units " + first.units() + ": a stack needs one hidden size");
            }
            if (s.bias() != first.bias()) {
                throw new ModelFormatException(file, null, s.label() + " has use_bias=" + s.bias() + ", "
                        + first.label() + " use_bias=" + first.bias() + ": a stack needs one bias setting");
            }
            if (s.bidirectional() != first.bidirectional()) {
                throw new ModelFormatException(file, null, s.label() + " and " + first.label() + ": a stack of "
                        + "bidirectional and unidirectional layers is not supported");
            }
        }
    }

    /** In a functional model, each LSTM must take the previous layer's output (Keras 3 and Keras 2 node formats). */
    private static void checkInbound(Path file, JsonObject layer, String label, String previous)
            throws ModelFormatException {
        if (previous == null || !layer.has("inbound_nodes") || !layer.get("inbound_nodes").isJsonArray()) return;
        JsonArray nodes = layer.getAsJsonArray("inbound_nodes");
        if (nodes.isEmpty()) return;
        if (nodes.size() > 1) {
            throw new ModelFormatException(file, null, label + " is called " + nodes.size() + " times in the model "
                    + "(a shared layer): not a plain stack");
        }
        String from = inboundName(nodes.get(0));
        if (from != null && !from.equals(previous)) {
            throw new ModelFormatException(file, null, label + " takes the output of '" + from + "', not of the "
                    + "layer before it ('" + previous + "'): not a plain stack");
        }
    }

    private static String inboundName(JsonElement node) {
        if (node.isJsonObject()) {
            JsonObject o = node.getAsJsonObject();
            if (o.has("keras_history") && o.get("keras_history").isJsonArray()) {
                JsonArray h = o.getAsJsonArray("keras_history");
                return h.isEmpty() || !h.get(0).isJsonPrimitive() ? null : h.get(0).getAsString();
            }
            for (String k : List.of("args", "config")) {
                if (o.has(k)) {
                    String n = inboundName(o.get(k));
                    if (n != null) return n;
                }
            }
            return null;
        }
        if (node.isJsonArray()) {
            JsonArray a = node.getAsJsonArray();
            if (a.isEmpty()) return null;
            if (a.get(0).isJsonPrimitive() && a.get(0).getAsJsonPrimitive().isString()) return a.get(0).getAsString();
            return inboundName(a.get(0));
        }
        return null;
    }

    private static String activation(JsonObject c, String key, String dflt) {
        if (!c.has(key)) return dflt;
        if (c.get(key).isJsonNull()) return "linear";     // activation=None
        JsonElement e = c.get(key);
        if (e.isJsonPrimitive()) return e.getAsString();
        if (e.isJsonObject()) {
            JsonObject o = e.getAsJsonObject();
            if (o.has("config") && o.get("config").isJsonPrimitive()) return o.get("config").getAsString();
            return str(o, "class_name", e.toString());
        }
        return e.toString();
    }

    // ---------------------------------------------------------------- weights

    /** Reads the located datasets and converts them to this library's layout. */
    private static LstmModel build(Path file, Reader reader, Stack stack, List<List<Object[]>> located, String format)
            throws IOException {
        Spec first = stack.layers().get(0);
        int h = first.units(), dirs = first.bidirectional() ? 2 : 1, layers = stack.layers().size();
        Dataset k0 = (Dataset) located.get(0).get(0)[0];
        int[] kd = k0.getDimensions();
        if (kd.length != 2 || kd[1] != 4 * h || kd[0] < 1) {
            throw new ModelFormatException(file, reader.name(k0), "expected a kernel [input size, 4·units = "
                    + 4 * h + "], got " + Arrays.toString(kd));
        }
        LstmConfig config;
        try {
            config = LstmConfig.builder(kd[0], h).layers(layers).bidirectional(dirs == 2).layout(Layout.BATCH_MAJOR)
                    .build();
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(file, null, "not a configuration this library runs: " + e.getMessage(), e);
        }
        StackWeights.Builder sb = StackWeights.builder(config);
        for (int l = 0; l < layers; l++) {
            int in = config.layerInputSize(l);
            for (int d = 0; d < dirs; d++) {
                Object[] ds = located.get(l).get(d);
                float[] kernel = reader.read((Dataset) ds[0], "kernel: input size × 4·units", in, 4 * h);
                float[] rec = reader.read((Dataset) ds[1], "recurrent_kernel: units × 4·units", h, 4 * h);
                LstmWeights.Builder b = LstmWeights.builder(MemorySegment.ofArray(transpose(kernel, in, 4 * h)),
                        MemorySegment.ofArray(transpose(rec, h, 4 * h)));
                if (first.bias()) {
                    float[] bias = reader.read((Dataset) ds[2], "bias: 4·units", 4 * h);
                    b.bias(MemorySegment.ofArray(bias), MemorySegment.ofArray(new float[4 * h]));
                }
                sb.set(l, d, b.build());
            }
        }
        String fmt = format;
        if (!stack.skipped().isEmpty()) fmt += " (not imported: " + String.join(", ", stack.skipped()) + ")";
        Spec last = stack.layers().get(layers - 1);
        if (!last.returnSequences()) fmt += " (the last LSTM returns its final output only)";
        ModelInfo info = new ModelInfo(fmt, file, "", List.copyOf(reader.dtypes), first.bias(), reader.read);
        return new LstmModel(config, sb.build(), info);
    }

    /** Whether the model's last LSTM layer returns whole sequences (false: Keras gives the final output only). */
    public static boolean returnsSequences(LstmModel m) {
        return !m.info().format().contains("final output only");
    }

    private static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
        }
        return t;
    }

    /** Reads datasets as f32, checking shape and type, and records what it read. */
    private static final class Reader {
        final Path file;
        final String where;
        final Set<String> dtypes = new LinkedHashSet<>();
        final List<String> read = new ArrayList<>();

        Reader(Path file, String where) {
            this.file = file;
            this.where = where;
        }

        String name(Dataset d) { return where + d.getPath(); }

        float[] read(Dataset d, String meaning, int... shape) throws ModelFormatException {
            String name = name(d);
            int[] got = d.getDimensions();
            if (!Arrays.equals(got, shape)) {
                throw new ModelFormatException(file, name, "expected shape " + Arrays.toString(shape) + " (" + meaning
                        + "), got " + Arrays.toString(got));
            }
            Class<?> t = d.getJavaType();
            Object data;
            try {
                data = d.getDataFlat();
            } catch (RuntimeException e) {
                throw new ModelFormatException(file, name, "unreadable: " + e, e);
            }
            float[] out;
            if (t == float.class && data instanceof float[] f) {
                out = f;
                dtypes.add("F32");
            } else if (t == double.class && data instanceof double[] dd) {
                out = new float[dd.length];
                for (int i = 0; i < dd.length; i++) out[i] = (float) dd[i];
                dtypes.add("F64");
            } else {
                throw new ModelFormatException(file, name, "expected float32 (or float64) data, got "
                        + (t == null ? "unknown" : t.getSimpleName()));
            }
            read.add(name);
            return out;
        }
    }

    // ---------------------------------------------------------------- helpers

    private static Group group(Path file, HdfFile h5, String path, String what) throws ModelFormatException {
        Node n = h5.getChild(path);
        if (!(n instanceof Group g)) {
            throw new ModelFormatException(file, "/" + path, "missing (" + what + "); the file's top level: "
                    + h5.getChildren().keySet());
        }
        return g;
    }

    private static Dataset dataset(Path file, String where, Group g, String path, String what)
            throws ModelFormatException {
        Node n = child(g, path);
        if (!(n instanceof Dataset d)) {
            throw new ModelFormatException(file, where + g.getPath() + path, "missing (" + what + ")");
        }
        return d;
    }

    private static Node child(Group g, String path) {
        try {
            return g.getByPath(path);
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static final byte[] HDF5_SIGNATURE = {(byte) 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

    private static void checkLength(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer head = ByteBuffer.allocate((int) Math.min(ch.size(), 1 << 16));
            while (head.hasRemaining() && ch.read(head) > 0) { /* fill */ }
            head.flip();
            checkLength(file, null, head, ch.size());
        } catch (ModelFormatException e) {
            throw e;
        } catch (IOException e) {
            throw new ModelFormatException(file, null, "unreadable: " + e.getMessage(), e);
        }
    }

    /**
     * A truncated HDF5 file reads, with jHDF, as one whose objects are missing: compare the superblock's end-of-file
     * address with the length first. {@code head} starts at the file's first byte; the superblock is at 0, 512, 1024,
     * ... (after a user block).
     */
    private static void checkLength(Path file, String entry, ByteBuffer head, long size) throws ModelFormatException {
        ByteBuffer b = head.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        for (long at = 0; at + 48 <= b.limit(); at = at == 0 ? 512 : at * 2) {
            int p = (int) at;
            boolean sig = true;
            for (int i = 0; i < 8 && sig; i++) sig = b.get(p + i) == HDF5_SIGNATURE[i];
            if (!sig) continue;
            int version = b.get(p + 8);
            long base, eof;
            if (version == 0 || version == 1) {
                if (b.get(p + 13) != 8) return;                    // only 8-byte offsets are checked
                int q = p + 24 + (version == 1 ? 4 : 0);
                base = b.getLong(q);
                eof = b.getLong(q + 16);
            } else if (version == 2 || version == 3) {
                if (b.get(p + 9) != 8) return;
                base = b.getLong(p + 12);
                eof = b.getLong(p + 28);
            } else {
                return;
            }
            long end = base + eof;
            if (base >= 0 && eof > 0 && end > size) {
                throw new ModelFormatException(file, entry, "truncated HDF5 file: its superblock says " + end
                        + " bytes, it has " + size);
            }
            return;
        }
        throw new ModelFormatException(file, entry, "not an HDF5 file (no HDF5 signature)");
    }

    private static ModelFormatException hdf(Path file, String entry, RuntimeException e) {
        return new ModelFormatException(file, entry, "not a readable HDF5 file: " + e.getMessage(), e);
    }

    private static String stringAttr(Node n, String key) {
        Attribute a;
        try {
            a = n.getAttribute(key);
        } catch (RuntimeException e) {
            return null;
        }
        if (a == null) return null;
        List<String> s = strings(a.getData());
        return s.size() == 1 ? s.get(0) : null;
    }

    private static List<String> strings(Object data) {
        if (data instanceof String s) return List.of(s);
        if (data instanceof String[] a) return List.of(a);
        if (data instanceof byte[] b) return List.of(new String(b, StandardCharsets.UTF_8));
        return List.of();
    }

    private static JsonObject json(Path file, String what, String text) throws ModelFormatException {
        try {
            JsonElement e = JsonParser.parseString(text);
            if (!e.isJsonObject()) throw new ModelFormatException(file, what, "expected a JSON object");
            return e.getAsJsonObject();
        } catch (RuntimeException e) {
            throw new ModelFormatException(file, what, "not valid JSON: " + e.getMessage(), e);
        }
    }

    private static JsonObject obj(JsonObject o, String key) {
        return o.has(key) && o.get(key).isJsonObject() ? o.getAsJsonObject(key) : new JsonObject();
    }

    private static String str(JsonObject o, String key, String dflt) {
        return o.has(key) && o.get(key).isJsonPrimitive() ? o.get(key).getAsString() : dflt;
    }

    private static boolean bool(JsonObject o, String key, boolean dflt) {
        return o.has(key) && o.get(key).isJsonPrimitive() ? o.get(key).getAsBoolean() : dflt;
    }
}
