package demo

import (
	"fmt"
	"strings"

	"github.com/reactivation/reactivation/internal/profile"
)

// The fixed vocabulary of the demo: a Costa Rican restaurant group's menu,
// Spanish names and the cities its customers give. Weights are relative.

// dish is one menu item. Price is in whole colones before taxes; ingredients
// are names from ingredientNames.
type dish struct {
	name        string
	price       int64
	weight      float64
	ingredients []string
}

var ingredientNames = []string{
	"queso mozzarella", "salsa de tomate", "pepperoni", "jamón", "piña", "hongos",
	"chile dulce", "cebolla", "aceitunas negras", "tocineta", "pollo", "carne de res",
	"chorizo", "albahaca", "orégano", "ajo", "aceite de oliva", "queso parmesano",
	"queso crema", "camarones", "atún", "espinaca", "tomate", "lechuga", "arroz",
	"frijoles negros", "plátano maduro", "huevo", "natilla", "tortilla", "picadillo de papa",
	"pescado", "limón", "culantro", "pasta", "crema dulce", "mantequilla", "salsa bechamel",
	"salsa pesto", "maíz dulce", "papas", "salsa barbacoa", "pan", "chocolate", "leche",
	"azúcar", "café", "fresa", "mora", "cas", "hielo", "leche condensada", "harina de trigo",
	"queso turrialba", "aguacate", "salsa Lizano", "carne de cerdo", "vainilla", "canela",
	"agua", "agua carbonatada", "hierbabuena", "coco", "tapa de dulce", "yuca", "chayote",
}

var menu = []dish{
	// Pizzas
	{"Pizza Pepperoni", 8950, 9, []string{"harina de trigo", "salsa de tomate", "queso mozzarella", "pepperoni", "orégano"}},
	{"Pizza Hawaiana", 8950, 8, []string{"harina de trigo", "salsa de tomate", "queso mozzarella", "jamón", "piña"}},
	{"Pizza Suprema", 10950, 6, []string{"harina de trigo", "salsa de tomate", "queso mozzarella", "pepperoni", "jamón", "hongos", "chile dulce", "cebolla"}},
	{"Pizza Margarita", 7950, 4, []string{"harina de trigo", "salsa de tomate", "queso mozzarella", "tomate", "albahaca", "aceite de oliva"}},
	{"Pizza Cuatro Quesos", 9950, 4, []string{"harina de trigo", "salsa de tomate", "queso mozzarella", "queso parmesano", "queso crema", "queso turrialba"}},
	{"Pizza Vegetariana", 8950, 3, []string{"harina de trigo", "salsa de tomate", "queso mozzarella", "hongos", "chile dulce", "cebolla", "aceitunas negras", "maíz dulce"}},
	{"Pizza Jamón y Hongos", 8950, 4, []string{"harina de trigo", "salsa de tomate", "queso mozzarella", "jamón", "hongos"}},
	{"Pizza Pollo BBQ", 9950, 4, []string{"harina de trigo", "salsa barbacoa", "queso mozzarella", "pollo", "cebolla", "tocineta"}},
	{"Pizza Mexicana", 9950, 2, []string{"harina de trigo", "salsa de tomate", "queso mozzarella", "carne de res", "chile dulce", "cebolla", "aguacate"}},
	{"Pizza Carnívora", 11950, 3, []string{"harina de trigo", "salsa de tomate", "queso mozzarella", "pepperoni", "jamón", "tocineta", "chorizo", "carne de res"}},
	{"Pizza Camarones al Ajillo", 12950, 1.5, []string{"harina de trigo", "queso mozzarella", "camarones", "ajo", "aceite de oliva", "culantro"}},
	{"Pizza Napolitana", 8950, 1.5, []string{"harina de trigo", "salsa de tomate", "queso mozzarella", "tomate", "ajo", "orégano", "albahaca"}},
	{"Pizza Tica", 9950, 2, []string{"harina de trigo", "salsa de tomate", "queso turrialba", "chorizo", "plátano maduro", "frijoles negros"}},
	{"Pizza Pesto y Pollo", 9950, 1.5, []string{"harina de trigo", "salsa pesto", "queso mozzarella", "pollo", "tomate"}},
	{"Pizza Atún y Cebolla", 8950, 0.8, []string{"harina de trigo", "salsa de tomate", "queso mozzarella", "atún", "cebolla"}},
	// Pastas
	{"Spaghetti a la Boloñesa", 6950, 5, []string{"pasta", "carne de res", "salsa de tomate", "cebolla", "ajo", "queso parmesano"}},
	{"Fettuccine Alfredo", 7450, 4, []string{"pasta", "crema dulce", "mantequilla", "queso parmesano", "ajo"}},
	{"Lasaña de Carne", 7950, 4, []string{"pasta", "carne de res", "salsa de tomate", "salsa bechamel", "queso mozzarella", "queso parmesano"}},
	{"Lasaña Vegetariana", 7450, 1.5, []string{"pasta", "espinaca", "hongos", "salsa bechamel", "queso mozzarella", "chile dulce", "chayote"}},
	{"Penne Arrabbiata", 6450, 1.5, []string{"pasta", "salsa de tomate", "ajo", "aceite de oliva", "queso parmesano"}},
	{"Spaghetti Carbonara", 7450, 3, []string{"pasta", "tocineta", "huevo", "queso parmesano", "crema dulce"}},
	{"Ravioles de Queso", 7950, 1.5, []string{"pasta", "queso crema", "queso parmesano", "salsa de tomate", "albahaca"}},
	{"Fettuccine al Pesto", 6950, 1.5, []string{"pasta", "salsa pesto", "queso parmesano", "aceite de oliva"}},
	{"Spaghetti con Camarones", 8950, 2, []string{"pasta", "camarones", "ajo", "mantequilla", "culantro", "limón"}},
	{"Canelones de Espinaca", 7450, 1, []string{"pasta", "espinaca", "queso crema", "salsa bechamel", "queso mozzarella"}},
	// Casados y platos típicos
	{"Casado con Pollo", 4500, 7, []string{"arroz", "frijoles negros", "pollo", "plátano maduro", "lechuga", "tomate", "picadillo de papa"}},
	{"Casado con Bistec", 5200, 6, []string{"arroz", "frijoles negros", "carne de res", "cebolla", "plátano maduro", "lechuga", "tomate"}},
	{"Casado con Pescado", 5500, 3, []string{"arroz", "frijoles negros", "pescado", "plátano maduro", "lechuga", "limón"}},
	{"Casado con Chuleta", 5200, 3, []string{"arroz", "frijoles negros", "carne de cerdo", "plátano maduro", "lechuga", "tomate"}},
	{"Casado Vegetariano", 4200, 1.5, []string{"arroz", "frijoles negros", "huevo", "plátano maduro", "picadillo de papa", "aguacate"}},
	{"Gallo Pinto con Huevo", 3500, 5, []string{"arroz", "frijoles negros", "huevo", "natilla", "tortilla", "salsa Lizano"}},
	{"Arroz con Pollo", 4800, 5, []string{"arroz", "pollo", "chile dulce", "maíz dulce", "culantro", "papas"}},
	{"Arroz con Camarones", 6500, 2, []string{"arroz", "camarones", "chile dulce", "culantro", "salsa Lizano"}},
	{"Olla de Carne", 5800, 1.5, []string{"carne de res", "yuca", "chayote", "papas", "culantro", "arroz"}},
	{"Chifrijo", 4500, 4, []string{"arroz", "frijoles negros", "carne de cerdo", "tomate", "limón", "culantro", "aguacate"}},
	// Entradas
	{"Pan de Ajo", 2500, 6, []string{"pan", "ajo", "mantequilla", "queso parmesano"}},
	{"Alitas BBQ", 5950, 5, []string{"pollo", "salsa barbacoa", "ajo", "limón"}},
	{"Ensalada César", 4950, 3, []string{"lechuga", "pollo", "queso parmesano", "pan", "aceite de oliva", "limón"}},
	{"Ensalada Caprese", 4950, 1.5, []string{"tomate", "queso mozzarella", "albahaca", "aceite de oliva"}},
	{"Nachos con Queso", 4500, 4, []string{"tortilla", "queso turrialba", "frijoles negros", "carne de res", "natilla", "aguacate"}},
	{"Patacones con Frijoles", 3500, 3, []string{"plátano maduro", "frijoles negros", "natilla", "aguacate"}},
	{"Dedos de Queso", 3950, 3, []string{"queso mozzarella", "harina de trigo", "huevo", "salsa de tomate"}},
	{"Papas Fritas", 2200, 7, []string{"papas", "aceite de oliva", "salsa de tomate"}},
	{"Yuca Frita", 2500, 2, []string{"yuca", "aceite de oliva", "limón", "salsa Lizano"}},
	// Bebidas
	{"Coca-Cola", 1500, 10, []string{"agua carbonatada", "azúcar", "hielo"}},
	{"Fresco de Cas", 1500, 5, []string{"cas", "agua", "azúcar", "hielo"}},
	{"Fresco de Mora", 1500, 4, []string{"mora", "agua", "azúcar", "hielo"}},
	{"Batido de Fresa en Leche", 2200, 4, []string{"fresa", "leche", "azúcar", "hielo"}},
	{"Limonada con Hierbabuena", 1800, 4, []string{"limón", "hierbabuena", "agua", "azúcar", "hielo"}},
	{"Horchata", 1600, 2, []string{"arroz", "leche", "canela", "azúcar", "hielo"}},
	{"Café Chorreado", 1200, 6, []string{"café", "agua", "azúcar"}},
	{"Capuchino", 1950, 4, []string{"café", "leche", "azúcar", "canela"}},
	{"Agua de Pipa", 1500, 2, []string{"coco", "agua", "hielo"}},
	{"Agua Dulce con Leche", 1200, 2, []string{"tapa de dulce", "agua", "leche"}},
	{"Té Frío de Limón", 1400, 3, []string{"agua", "limón", "azúcar", "hielo"}},
	{"Cerveza Imperial", 1900, 5, []string{"agua", "hielo", "limón"}},
	// Postres
	{"Tres Leches", 2800, 4, []string{"harina de trigo", "huevo", "leche", "leche condensada", "crema dulce", "vainilla"}},
	{"Flan de Coco", 2500, 2, []string{"coco", "huevo", "leche condensada", "leche", "azúcar"}},
	{"Arroz con Leche", 2200, 2, []string{"arroz", "leche", "canela", "azúcar", "leche condensada"}},
	{"Brownie con Helado", 3200, 3, []string{"chocolate", "harina de trigo", "huevo", "mantequilla", "azúcar", "leche", "vainilla"}},
	{"Tiramisú", 3500, 1.5, []string{"café", "queso crema", "huevo", "azúcar", "chocolate", "crema dulce"}},
	{"Cheesecake de Fresa", 3500, 2, []string{"queso crema", "fresa", "azúcar", "harina de trigo", "mantequilla", "huevo"}},
	{"Churchill", 2500, 2, []string{"hielo", "leche condensada", "azúcar", "fresa"}},
}

var femaleNames = []string{
	"María", "Ana", "Laura", "Sofía", "Valeria", "Daniela", "Gabriela", "Andrea", "Carolina",
	"Fernanda", "Mariana", "Paola", "Natalia", "Adriana", "Catalina", "Alejandra", "Karla",
	"Melissa", "Silvia", "Patricia", "Marta", "Rosa", "Lucía", "Isabel", "Camila", "Jimena",
	"Raquel", "Viviana", "Priscilla", "Yorleny", "Marianela", "Hazel", "Tatiana", "Ileana",
	"Xinia", "Wendy", "Rebeca", "Stephanie", "Noelia", "Elena", "Ruth", "Vanessa", "Fabiola",
	"Josefina", "Guadalupe", "Flor", "Ester", "Dayana", "María José", "María Fernanda",
	"Ana Lucía", "Sonia", "Ligia", "Grettel", "Kattia",
}

var maleNames = []string{
	"José", "Juan", "Carlos", "Luis", "Jorge", "Andrés", "Diego", "Daniel", "Alejandro",
	"Fernando", "Manuel", "Ricardo", "Mario", "Roberto", "Esteban", "Pablo", "Sebastián",
	"Mauricio", "Rodrigo", "Alonso", "Gerardo", "Rafael", "Francisco", "Miguel", "Óscar",
	"Víctor", "Randall", "Minor", "Greivin", "Johnny", "Marvin", "Erick", "Kevin", "Josué",
	"Adrián", "Jonathan", "Fabián", "Allan", "Ronald", "Olman", "Joaquín", "Emilio", "Ignacio",
	"Felipe", "José Pablo", "Juan Carlos", "Luis Diego", "José María", "Jesús", "Álvaro",
	"Warner", "Geovanny", "Rolando",
}

var surnames = []string{
	"Rodríguez", "Vargas", "Jiménez", "Mora", "Rojas", "González", "Sánchez", "Hernández",
	"Ramírez", "Castro", "Solano", "Alvarado", "Chaves", "Araya", "Quesada", "Campos",
	"Villalobos", "Calderón", "Salazar", "Madrigal", "Arias", "Brenes", "Herrera", "Fernández",
	"Segura", "Navarro", "Zúñiga", "Porras", "Vega", "Méndez", "Barrantes", "Cordero", "Murillo",
	"Ugalde", "Alfaro", "Monge", "Soto", "Gómez", "Pérez", "Morales", "Castillo", "Esquivel",
	"Cascante", "Umaña", "Montero", "Leiva", "Guzmán", "Badilla", "Cerdas", "Picado", "Bolaños",
	"Carvajal", "Valverde", "Cubero", "Fallas", "Elizondo", "Aguilar", "Acuña", "Matamoros",
	"Sibaja", "Obando", "Mata", "Granados", "Chacón", "Marín", "Vindas", "Corrales", "Ulate",
	"Artavia", "Quirós", "Rivera", "Blanco", "Meza", "Núñez", "Céspedes", "Solís",
}

// Surnames with apostrophes and nicknames in quotes give a few names that
// need quoting in CSV.
var (
	apostropheSurnames = []string{"O'Brien", "D'Angelo", "O'Neill", "Dell'Orto"}
	// nicknames of women and of men, like femaleNames and maleNames.
	nicknames = [2][]string{{"Nena", "Pili", "Tata", "Chayo", "Lupe"}, {"Toño", "Chepe", "Beto", "Memo", "Lalo"}}
)

// city is a canton customers give, spelled canonically; raw data also holds
// other spellings (see spellings).
type city struct {
	name   string
	weight float64
}

var cities = []city{
	{"San José", 16}, {"Alajuela", 10}, {"Heredia", 8}, {"Cartago", 8}, {"Desamparados", 6},
	{"Escazú", 5}, {"Santa Ana", 4}, {"Curridabat", 4}, {"Tibás", 4}, {"Moravia", 3},
	{"Goicoechea", 3}, {"Liberia", 3}, {"Puntarenas", 3}, {"Limón", 3}, {"Pérez Zeledón", 3},
	{"San Carlos", 3}, {"Guápiles", 2}, {"Grecia", 2}, {"Paraíso", 2}, {"Turrialba", 2},
	{"Nicoya", 1.5}, {"Santo Domingo", 2}, {"San Ramón", 2}, {"Belén", 2}, {"Coronado", 2},
}

var emailDomains = []weighted[string]{
	{"gmail.com", 55}, {"hotmail.com", 20}, {"yahoo.com", 8}, {"outlook.com", 7},
	{"ice.co.cr", 4}, {"racsa.co.cr", 2}, {"icloud.com", 4},
}

// Raw gender spellings: mostly the canonical value, a few of the odd ones
// real data holds. nullGender marks a missing value.
const nullGender = "\x00"

var (
	femaleSpellings = []weighted[string]{{"mujer", 90}, {"Mujer", 4}, {"F", 2}, {"femenino", 1.5}, {"MUJER", 1.5}, {" f ", 1}}
	maleSpellings   = []weighted[string]{{"hombre", 90}, {"Hombre", 4}, {"M", 2}, {"masculino", 1.5}, {"HOMBRE", 1.5}, {" m ", 1}}
	otherSpellings  = []weighted[string]{{"", 60}, {nullGender, 25}, {"otro", 15}}
)

// weighted is a value with a relative weight.
type weighted[T any] struct {
	value  T
	weight float64
}

// emailSlug is the ASCII, lowercase, letters-only form of a name, for the
// local part of an email address.
func emailSlug(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r
		}
		return -1
	}, profile.Fold(name))
}

// catalogRows returns the products, ingredients and product_ingredients rows
// of the menu, with ids P001.., I001...
func catalogRows() (products, ingredients, productIngredients [][]any) {
	ingredientID := make(map[string]string, len(ingredientNames))
	for i, name := range ingredientNames {
		id := fmt.Sprintf("I%03d", i+1)
		ingredientID[name] = id
		ingredients = append(ingredients, []any{id, name})
	}
	for i, d := range menu {
		products = append(products, []any{productID(i), d.name})
		for _, ing := range d.ingredients {
			productIngredients = append(productIngredients, []any{productID(i), ingredientID[ing]})
		}
	}
	return products, ingredients, productIngredients
}

func productID(i int) string { return fmt.Sprintf("P%03d", i+1) }
