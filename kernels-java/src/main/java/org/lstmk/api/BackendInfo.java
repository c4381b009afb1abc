package org.lstmk.api;

/**
 * One backend as the dispatcher sees it in this process.
 *
 * @param name           what {@code -Dlstm.backend=} accepts
 * @param description    what it is
 * @param priority       preference among usable backends (higher wins)
 * @param usable         whether it can run here
 * @param detail         what it runs on, or why it cannot run
 * @param autoSelectable whether the dispatcher may choose it without being told to
 */
public record BackendInfo(String name, String description, int priority, boolean usable, String detail,
                          boolean autoSelectable) {}
