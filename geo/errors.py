from core.errors import InvalidInput


class OutsideServiceArea(InvalidInput):
    code = "outside_service_area"
