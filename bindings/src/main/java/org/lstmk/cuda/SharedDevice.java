package org.lstmk.cuda;

/**
 * A device shared by a backend instance and the packed weights and workspaces it created, which may outlive it
 * ({@link org.lstmk.spi.LstmBackend#close()} leaves them valid): the device closes when its last owner releases it.
 */
final class SharedDevice {
    private final Device device;
    private int owners = 1;

    SharedDevice(Device device) {
        this.device = device;
    }

    Device device() {
        return device;
    }

    synchronized void retain() {
        if (owners == 0) throw new IllegalStateException("device has been closed");
        owners++;
    }

    synchronized void release() {
        if (owners > 0 && --owners == 0) device.close();
    }
}
