package org.lstmk.models;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.lstmk.api.LstmConfig;
import org.lstmk.api.LstmWeights;
import org.lstmk.api.StackWeights;

/**
 * Imports a PyTorch {@code nn.LSTM} from its {@code state_dict} saved as safetensors
 * ({@code safetensors.torch.save_file(model.state_dict(), path)}): the whole stack (every {@code weight_ih_l{k}},
 * {@code weight_hh_l{k}}, {@code bias_ih_l{k}}, {@code bias_hh_l{k}}, {@code weight_hr_l{k}} and their
 * {@code _reverse} twins), stored as {@code F32}, {@code F16}, {@code BF16} (or {@code F64}), read as {@code float32}.
 *
 * <p><b>Which LSTM.</b> In a bigger module's state_dict the layer's keys carry its attribute path as a prefix
 * ({@code encoder.weight_ih_l0}). Name it ({@code "encoder"} or {@code "encoder."}; {@code ""} for keys without a
 * prefix), or pass null to take the only LSTM in the file; a file with several is an error that lists them.
 *
 * <p><b>What is derived</b>: layers (the {@code _l{k}} present), directions ({@code _reverse}), input size
 * ({@code weight_ih_l0}'s columns), hidden size ({@code weight_hh_l0}'s rows / 4), projection ({@code weight_hr_l0}'s
 * rows), bias (whether {@code bias_ih_l0} is there). Every tensor is then checked against the shape the configuration
 * gives it; PyTorch's gate order {@code i, f, g, o} is this library's, so the weights are used as stored.
 * {@code batch_first} is not part of a state_dict: see {@link LstmModel#withLayout}.
 */
public final class PyTorchImporter {
    private PyTorchImporter() {}

    /** The format's name in {@link ModelInfo#format()}. */
    public static final String FORMAT = "PyTorch nn.LSTM (safetensors)";

    private static final Pattern KEY = Pattern.compile("(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(\\d+)(_reverse)?");
    private static final String ANCHOR = "weight_ih_l0";

    /** Loads the only {@code nn.LSTM} in {@code file}. */
    public static LstmModel load(Path file) throws IOException {
        return load(file, null);
    }

    /**
     * Loads the {@code nn.LSTM} whose keys start with {@code prefix} ({@code "encoder"} and {@code "encoder."} are the
     * same; {@code ""} means no prefix), or the only one in the file when {@code prefix} is null.
     *
     * @throws ModelFormatException naming the file, the tensor and what was expected, when the file is corrupt or
     *                              truncated, holds no LSTM (or several, with no prefix given), or a tensor is
     *                              missing, of the wrong shape or not floating point
     */
    public static LstmModel load(Path file, String prefix) throws IOException {
        try (Safetensors.Reader r = Safetensors.open(file)) {
            return load(r, prefix);
        }
    }

    /** The prefixes of the LSTMs in the file ({@code ""} for one without), in the file's order. */
    public static List<String> prefixes(Safetensors.Reader r) {
        List<String> out = new ArrayList<>();
        for (String name : r.tensors().keySet()) {
            if (name.endsWith(ANCHOR)) {
                String p = name.substring(0, name.length() - ANCHOR.length());
                if (p.isEmpty() || p.endsWith(".")) out.add(p);
            }
        }
        return out;
    }

    static LstmModel load(Safetensors.Reader r, String requested) throws IOException {
        Path file = r.file();
        String prefix = choosePrefix(r, requested);

        // Every LSTM tensor under the prefix, by (kind, layer, direction); anything else directly under it is wrong.
        Map<String, Safetensors.TensorInfo> found = new TreeMap<>();
        int layers = 0;
        boolean reverse = false;
        for (Safetensors.TensorInfo t : r.tensors().values()) {
            if (!t.name().startsWith(prefix)) continue;
            String local = t.name().substring(prefix.length());
            Matcher m = KEY.matcher(local);
            if (m.matches()) {
                int layer;
                try {
                    layer = Integer.parseInt(m.group(2));
                } catch (NumberFormatException e) {
                    throw new ModelFormatException(file, t.name(), "layer index out of range");
                }
                layers = Math.max(layers, layer + 1);
                reverse |= m.group(3) != null;
                found.put(local, t);
            } else if (!local.contains(".")) {
                throw new ModelFormatException(file, t.name(), "not a tensor of an nn.LSTM (expected weight_ih_l{k}, "
                        + "weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}, weight_hr_l{k}, optionally _reverse)");
            }
        }
        int dirs = reverse ? 2 : 1;
        Safetensors.TensorInfo wih0 = required(file, found, prefix, "weight_ih_l0", "the first layer's input weights");
        Safetensors.TensorInfo whh0 = required(file, found, prefix, "weight_hh_l0", "the first layer's recurrent weights");
        if (wih0.shape().length != 2) {
            throw new ModelFormatException(file, wih0.name(), "expected a matrix [4·H, I], got shape " + wih0.shapeString());
        }
        if (whh0.shape().length != 2 || whh0.shape()[0] % 4 != 0 || whh0.shape()[0] == 0) {
            throw new ModelFormatException(file, whh0.name(), "expected a matrix [4·H, H_out] with 4·H rows, got shape "
                    + whh0.shapeString());
        }
        long hidden = whh0.shape()[0] / 4, input = wih0.shape()[1];
        Safetensors.TensorInfo whr0 = found.get("weight_hr_l0");
        long proj = 0;
        if (whr0 != null) {
            if (whr0.shape().length != 2) {
                throw new ModelFormatException(file, whr0.name(), "expected a matrix [P, H], got shape " + whr0.shapeString());
            }
            proj = whr0.shape()[0];
        }
        boolean bias = found.containsKey("bias_ih_l0");
        if (hidden > Integer.MAX_VALUE || input > Integer.MAX_VALUE || input < 1) {
            throw new ModelFormatException(file, wih0.name(), "unsupported sizes: shape " + wih0.shapeString());
        }
        LstmConfig config;
        try {
            config = LstmConfig.builder((int) input, (int) hidden).layers(layers).bidirectional(reverse)
                    .projectionSize((int) proj).build();
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(file, null, "not a configuration this library runs (" + prefix + ANCHOR
                    + " " + wih0.shapeString() + "): " + e.getMessage(), e);
        }

        // Every expected tensor, checked, read; then nothing left over.
        Set<String> dtypes = new LinkedHashSet<>();
        List<String> read = new ArrayList<>();
        StackWeights.Builder stack = StackWeights.builder(config);
        long h4 = 4 * hidden, hOut = config.outputSize();
        for (int l = 0; l < layers; l++) {
            for (int d = 0; d < dirs; d++) {
                String sfx = "_l" + l + (d == 1 ? "_reverse" : "");
                String what = "layer " + l + (dirs == 2 ? (d == 1 ? " reverse" : " forward") : "");
                float[] wIh = tensor(r, found, prefix, "weight_ih" + sfx, what, dtypes, read, h4, config.layerInputSize(l));
                float[] wHh = tensor(r, found, prefix, "weight_hh" + sfx, what, dtypes, read, h4, hOut);
                LstmWeights.Builder b = LstmWeights.builder(MemorySegment.ofArray(wIh), MemorySegment.ofArray(wHh));
                if (bias) {
                    float[] bIh = tensor(r, found, prefix, "bias_ih" + sfx, what, dtypes, read, h4);
                    float[] bHh = tensor(r, found, prefix, "bias_hh" + sfx, what, dtypes, read, h4);
                    b.bias(MemorySegment.ofArray(bIh), MemorySegment.ofArray(bHh));
                } else {
                    unexpected(file, found, prefix, "bias_ih" + sfx, "the model has no bias (no bias_ih_l0)");
                    unexpected(file, found, prefix, "bias_hh" + sfx, "the model has no bias (no bias_ih_l0)");
                }
                if (proj > 0) {
                    b.projection(MemorySegment.ofArray(tensor(r, found, prefix, "weight_hr" + sfx, what, dtypes, read,
                            proj, hidden)));
                } else {
                    unexpected(file, found, prefix, "weight_hr" + sfx, "the model has no projection (no weight_hr_l0)");
                }
                stack.set(l, d, b.build());
            }
        }
        if (!found.isEmpty()) {
            Safetensors.TensorInfo extra = found.values().iterator().next();
            throw new ModelFormatException(file, extra.name(), "not part of a " + layers + "-layer "
                    + (dirs == 2 ? "bidirectional" : "unidirectional") + " LSTM (missing layers in between, or a "
                    + "_reverse tensor in a unidirectional one?)");
        }
        ModelInfo info = new ModelInfo(FORMAT, file, prefix, List.copyOf(dtypes), bias, read);
        return new LstmModel(config, stack.build(), info);
    }

    private static String choosePrefix(Safetensors.Reader r, String requested) throws ModelFormatException {
        List<String> all = prefixes(r);
        Path file = r.file();
        if (requested != null) {
            String p = requested.isEmpty() || requested.endsWith(".") ? requested : requested + ".";
            if (all.contains(p)) return p;
            throw new ModelFormatException(file, null, "no nn.LSTM named '" + requested + "' (no tensor '" + p + ANCHOR
                    + "'); " + listing(all, r));
        }
        if (all.size() == 1) return all.get(0);
        if (all.isEmpty()) throw new ModelFormatException(file, null, "no nn.LSTM in the file: " + listing(all, r));
        throw new ModelFormatException(file, null, all.size() + " LSTMs in the file (" + quoted(all)
                + "): name the one to load");
    }

    private static String listing(List<String> all, Safetensors.Reader r) {
        if (!all.isEmpty()) return "the file has " + quoted(all);
        List<String> names = new ArrayList<>(r.tensors().keySet());
        String shown = String.join(", ", names.subList(0, Math.min(8, names.size())));
        return "no tensor ends in '" + ANCHOR + "'; the file's tensors: "
                + (names.isEmpty() ? "none" : shown + (names.size() > 8 ? ", ... (" + names.size() + ")" : ""));
    }

    private static String quoted(List<String> prefixes) {
        return String.join(", ", prefixes.stream()
                .map(p -> p.isEmpty() ? "'' (no prefix)" : "'" + p.substring(0, p.length() - 1) + "'").toList());
    }

    private static Safetensors.TensorInfo required(Path file, Map<String, Safetensors.TensorInfo> found, String prefix,
                                                   String local, String what) throws ModelFormatException {
        Safetensors.TensorInfo t = found.get(local);
        if (t == null) throw new ModelFormatException(file, prefix + local, "missing (" + what + ")");
        return t;
    }

    private static void unexpected(Path file, Map<String, Safetensors.TensorInfo> found, String prefix, String local,
                                   String why) throws ModelFormatException {
        if (found.containsKey(local)) throw new ModelFormatException(file, prefix + local, "unexpected: " + why);
    }

    /** Reads tensor {@code local}, checked to be floating point of {@code shape}, and removes it from {@code found}. */
    private static float[] tensor(Safetensors.Reader r, Map<String, Safetensors.TensorInfo> found, String prefix,
                                  String local, String what, Set<String> dtypes, List<String> read, long... shape)
            throws IOException {
        Path file = r.file();
        Safetensors.TensorInfo t = found.remove(local);
        if (t == null) {
            throw new ModelFormatException(file, prefix + local, "missing (" + what + "; expected shape "
                    + Arrays.toString(shape) + ")");
        }
        if (!Arrays.equals(t.shape(), shape)) {
            throw new ModelFormatException(file, t.name(), "expected shape " + Arrays.toString(shape) + " ("
                    + meaning(local) + "), got " + t.shapeString());
        }
        if (t.dtype() == null || !t.dtype().isFloat()) {
            throw new ModelFormatException(file, t.name(), "expected dtype F32, F16 or BF16, got " + t.dtypeName());
        }
        dtypes.add(t.dtypeName());
        read.add(t.name());
        return r.floats(t.name());
    }

    private static String meaning(String local) {
        if (local.startsWith("weight_ih_l0")) return "4·H × input size";
        if (local.startsWith("weight_ih")) return "4·H × D·H_out, the layer below's output";
        if (local.startsWith("weight_hh")) return "4·H × H_out";
        if (local.startsWith("weight_hr")) return "P × H";
        return "4·H";
    }
}
